"""AutoML: model ids against PyCaret's own list, data preparation, a real training in a spawned process."""

from __future__ import annotations

import io
import json
import multiprocessing
import os
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from services.trainer.automl import (
    REGRESSION_MODEL_IDS,
    categorical_setup,
    describe_features,
    feature_importance,
    prepare_data,
)
from services.trainer.training_jobs import Failure, Progress, TrainingError, TrainingJob, TrainingResult
from services.trainer.training_process import TrainingProcess, load_training_data
from shared.config import REPO_ROOT
from shared.model_artifacts import ArtifactRecord, artifact_hmac, library_versions, load_pipeline, sha256_hex
from shared.storage import open_object_store
from tests.trainer_fixtures import sales_frame


def store_parquet(root: Path, key: str, frame: pd.DataFrame) -> str:
    url = f"file://{root}"
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    open_object_store(url).put(key, io.BytesIO(buffer.getvalue()), len(buffer.getvalue()))
    return url


def make_job(tmp_path: Path, store_url: str, key: str, **overrides) -> TrainingJob:
    options = dict(
        run_id=1,
        object_key=key,
        target="sales",
        include=["lr", "dt"],
        exclude=None,
        folds=2,
        sort="R2",
        seed=42,
        time_budget_s=120,
        threads=1,
        object_store_url=store_url,
    )
    options.update(overrides)
    return TrainingJob(**options)


def run_to_end(job: TrainingJob, work_dir: Path) -> tuple[list[Progress], TrainingResult | Failure]:
    work_dir.mkdir(parents=True, exist_ok=True)
    process = TrainingProcess(str(work_dir), job.threads)
    process.start()
    process.run(job)
    progress: list[Progress] = []
    try:
        while True:
            for message in process.messages(1.0):
                if isinstance(message, Progress):
                    progress.append(message)
                else:
                    return progress, message
            assert not process.ended, f"the training process died (exit code {process.exitcode})"
    finally:
        process.kill()


def test_model_ids_are_pycaret_regression_ids(tmp_path):
    script = (
        "import json, matplotlib; matplotlib.use('Agg');"
        "import pandas as pd; from pycaret.regression import RegressionExperiment;"
        "e = RegressionExperiment();"
        "e.setup(pd.DataFrame({'x': range(30), 'y': range(30)}), target='y', verbose=False, html=False, session_id=1);"
        "print(json.dumps(sorted(e.models().index)))"
    )
    env = {**os.environ, "PYCARET_CUSTOM_LOGGING_PATH": str(tmp_path / "p.log")}
    completed = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, check=True
    )
    assert set(json.loads(completed.stdout.strip().splitlines()[-1])) == REGRESSION_MODEL_IDS


def test_default_candidates_are_the_fast_models_that_compare_alone(tmp_path):
    """Without ``include``, every turbo model, and none of PyCaret's meta-models (Bagging, Stacking, Voting)."""
    script = (
        "import json, matplotlib; matplotlib.use('Agg');"
        "import pandas as pd; from pycaret.regression import RegressionExperiment;"
        "from services.trainer.automl import _candidates; from services.trainer.training_jobs import TrainingJob;"
        "e = RegressionExperiment();"
        "e.setup(pd.DataFrame({'x': range(30), 'y': range(30)}), target='y', verbose=False, html=False, session_id=1);"
        "job = TrainingJob(1, 'k', 'y', None, ['dummy'], 5, 'R2', 1, 60, 1, 'file:///unused');"
        "print(json.dumps(_candidates(e, job)))"
    )
    env = {**os.environ, "PYCARET_CUSTOM_LOGGING_PATH": str(tmp_path / "p.log"), "PYTHONPATH": str(REPO_ROOT)}
    completed = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, check=True
    )
    candidates = json.loads(completed.stdout.strip().splitlines()[-1])
    assert set(candidates) <= REGRESSION_MODEL_IDS - {"dummy"}
    assert {"lr", "ridge", "rf", "gbr", "lightgbm"} <= set(candidates)
    assert not {"kr", "svm", "mlp"} & set(candidates)  # slow ones are not turbo


def test_categorical_setup_keeps_the_text_columns_and_turns_many_valued_numbers_into_text():
    frame = sales_frame(120)
    frame["store_number"] = np.arange(120) % 40  # 40 values: target-encoded, so it must reach the encoder as text
    frame["promotion"] = np.arange(120) % 2  # two values: PyCaret maps the numbers themselves to 0/1
    assert categorical_setup(frame, "sales", []) == {}
    options = categorical_setup(frame, "sales", ["promotion", "store_number", "sales"])
    assert options["categorical_features"] == ["store", "promotion", "store_number"]
    assert options["max_encoding_ohe"] == 25
    [(_, as_text)] = options["custom_pipeline"]
    transformed = as_text.fit_transform(frame)
    assert transformed["store_number"].tolist()[:3] == ["0", "1", "2"]
    assert transformed["promotion"].tolist()[:3] == [0, 1, 0] and transformed["price"].equals(frame["price"])
    assert "custom_pipeline" not in categorical_setup(frame, "sales", ["promotion"])
    described = {f["name"]: f for f in describe_features(frame, "sales", ["store_number"])}
    assert described["store_number"]["categories"] == sorted(str(i) for i in range(40))
    assert "categories" not in described["promotion"] and described["store_number"]["dtype"] == "int64"


def test_prepare_data_refuses_a_mostly_missing_target():
    frame = sales_frame(50)
    frame.loc[:19, "sales"] = np.nan
    with pytest.raises(TrainingError, match="column `sales` has 40% missing values"):
        prepare_data(frame, "sales", 0.3)


def test_prepare_data_drops_rows_without_target_and_orders_by_date():
    frame = sales_frame(30).sample(frac=1.0, random_state=1).reset_index(drop=True)
    frame["day"] = frame["day"].dt.date  # parquet date32 arrives as Python dates
    frame.loc[0, "sales"] = np.nan
    prepared, order_by = prepare_data(frame, "sales", 0.3)
    assert order_by == "day"
    assert len(prepared) == 29
    assert prepared["day"].is_monotonic_increasing
    assert pd.api.types.is_datetime64_any_dtype(prepared["day"])


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (pd.DataFrame({"x": [1, 2], "y": [1.0, 2.0]}), "column `sales` is not in the dataset"),
        (pd.DataFrame({"x": [1, 2], "sales": ["a", "b"]}), "column `sales` is not numeric"),
    ],
)
def test_prepare_data_refuses_a_missing_or_text_target(frame, message):
    with pytest.raises(TrainingError, match=message):
        prepare_data(frame, "sales", 0.3)


def test_feature_importance_is_summed_back_onto_input_columns():
    from sklearn.linear_model import LinearRegression
    from sklearn.pipeline import Pipeline

    transformed = pd.DataFrame({"day_year": [1.0, 2, 3, 4], "day_month": [1.0, 1, 2, 3], "price": [3.0, 1, 2, 5]})
    pipeline = Pipeline([("actual_estimator", LinearRegression())]).fit(transformed, [1.0, 2, 3, 4])
    importance = feature_importance(pipeline, ["day", "price"])
    assert sorted(entry["feature"] for entry in importance) == ["day", "price"]
    coefficients = np.abs(pipeline.steps[-1][1].coef_)
    by_name = {entry["feature"]: entry["importance"] for entry in importance}
    assert by_name["day"] == pytest.approx(coefficients[0] + coefficients[1])


def _fit_predict_and_package(
    job: TrainingJob, frame: pd.DataFrame, work_dir: str
) -> tuple[list[float], TrainingResult]:
    """Runs in a spawned process: the pipeline's predictions before it is stored, and the stored result."""
    os.makedirs(work_dir, exist_ok=True)
    os.chdir(work_dir)
    os.environ["PYCARET_CUSTOM_LOGGING_PATH"] = os.path.join(work_dir, "pycaret.log")
    import matplotlib

    matplotlib.use("Agg")
    from services.trainer.automl import fit_best_model

    pipeline, result = fit_best_model(job, frame, lambda stage, fraction: None)
    before = pipeline.predict(frame.drop(columns=[job.target]))
    return [float(v) for v in before], result


@pytest.mark.slow
def test_stored_pipeline_predicts_what_it_predicted_before_storing(tmp_path):
    frame = sales_frame(80)
    job = make_job(tmp_path, "file:///unused", "unused")
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        before, result = pool.submit(_fit_predict_and_package, job, frame, str(tmp_path / "work")).result(timeout=300)
    key = "test-model-signing-key-of-32-bytes-or-more"
    sha256 = sha256_hex(result.artifact)
    record = ArtifactRecord(1, 1, sha256, artifact_hmac(key, 1, 1, sha256), library_versions())
    pipeline = load_pipeline(result.artifact, record, key)
    after = pipeline.predict(frame.drop(columns=["sales"]))
    assert list(after) == pytest.approx(before, rel=1e-9, abs=1e-9)


@pytest.mark.slow
def test_training_process_reports_each_candidate_and_hands_back_the_model(tmp_path):
    store_url = store_parquet(tmp_path / "objects", "datasets/d1.parquet", sales_frame(120))
    job = make_job(tmp_path, store_url, "datasets/d1.parquet", include=["lr", "dt", "ridge"], sort="MAE")
    progress, outcome = run_to_end(job, tmp_path / "work")
    assert isinstance(outcome, TrainingResult), outcome
    comparing = [p.fraction for p in progress if p.stage == "comparing models"]
    assert len(comparing) >= 1 + 3  # once on entering the stage, then once per candidate
    assert comparing == sorted(comparing)
    assert [p.stage for p in progress][:2] == ["loading data", "preparing"]
    board = outcome.leaderboard
    assert [row["model"] for row in board] != [] and {row["model"] for row in board} == {"lr", "dt", "ridge"}
    assert [row["MAE"] for row in board] == sorted(row["MAE"] for row in board)
    assert set(board[0]) == {"model", "name", "MAE", "MSE", "RMSE", "R2", "RMSLE", "MAPE", "fit_seconds"}
    assert outcome.algorithm == board[0]["model"]
    assert set(outcome.metrics) == {"cv", "holdout"} and outcome.metrics["holdout"]["R2"] > 0.8
    assert [f["name"] for f in outcome.features] == ["day", "price", "store"]
    assert outcome.features[2]["categories"] == ["east", "north", "south"]
    assert outcome.features[1]["min"] >= 1 and outcome.features[1]["max"] <= 10
    assert {entry["feature"] for entry in outcome.feature_importance} <= {"day", "price", "store"}
    assert list((tmp_path / "work").glob("logs.log")) == []


@pytest.mark.slow
def test_training_process_explains_a_bad_target(tmp_path):
    frame = sales_frame(60)
    frame.loc[:29, "sales"] = np.nan
    store_url = store_parquet(tmp_path / "objects", "datasets/d2.parquet", frame)
    _, outcome = run_to_end(make_job(tmp_path, store_url, "datasets/d2.parquet"), tmp_path / "work")
    assert outcome == Failure(
        "column `sales` has 50% missing values; fill them in or drop those rows and upload the dataset again"
    )


def test_decimal_columns_are_trained_as_numbers(tmp_path):
    """A parquet decimal (a price written by a database export) is a number, not a text category."""
    import decimal

    import pyarrow as pa
    import pyarrow.parquet as pq

    frame = sales_frame(rows=30)
    prices = [decimal.Decimal(f"{price:.2f}") for price in frame["price"]]
    table = pa.Table.from_pandas(frame.drop(columns=["price"]), preserve_index=False).append_column(
        pa.field("price", pa.decimal128(8, 2)), pa.array(prices, type=pa.decimal128(8, 2))
    )
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    url = f"file://{tmp_path}"
    open_object_store(url).put("sales/decimal.parquet", io.BytesIO(buffer.getvalue()), len(buffer.getvalue()))

    data = load_training_data(make_job(tmp_path, url, "sales/decimal.parquet"))
    assert data["price"].dtype == "float64"
    assert data["price"].tolist() == pytest.approx(frame["price"].round(2).tolist())
    price = next(feature for feature in describe_features(data, "sales") if feature["name"] == "price")
    assert price["dtype"] == "float64" and "categories" not in price
    assert price["min"] == pytest.approx(frame["price"].round(2).min())
