"""The predictor app against real PostgreSQL, with pipelines trained for real by PyCaret on the supplements example.

Model rows are written as the trainer writes them (``dump_pipeline``, its HMAC and sha256, ``library_versions``,
the trainer's ``describe_features``), straight into the test database. The models are served by their compiled
scorers, which answer each row as a one-row ``pipeline.predict`` does; the batching tests turn them off.
"""

from __future__ import annotations

import datetime
import io
import json
import os
import pickle
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import event, update

from demo.supplements import expected_sales, generate_supplements_sales
from services.predictor import create_app, model_cache
from services.predictor.extensions import MODEL_CACHE_EXTENSION, SERVING_VERSIONS_EXTENSION
from services.predictor.model_cache import find_serving_version
from services.predictor.scoring import parquet_bytes
from services.trainer.automl import describe_features
from shared.db import db
from shared.media_types import PARQUET
from shared.model_artifacts import artifact_hmac, dump_pipeline, library_versions, load_pipeline, sha256_hex
from shared.training_records import ModelVersion
from tests.conftest import internal_token_headers

OWNER = 7
OTHER_USER = 8
PROJECT = 1

FEATURES = ["product", "price", "promotion", "weekday"]
CREATINA_SATURDAY = {"product": "Creatina", "price": 150, "promotion": 0, "weekday": "Saturday"}


class TrainedModel:
    def __init__(self, pipeline: Any, data: pd.DataFrame) -> None:
        self.pipeline = pipeline
        self.artifact = dump_pipeline(pipeline)
        self.sha256 = sha256_hex(self.artifact)
        self.features = describe_features(data, "sales")
        self._answers_alone: dict[tuple, float] = {}

    def predict(self, rows: pd.DataFrame | list[dict]) -> np.ndarray:
        """The pipeline's answers for all rows in one call."""
        frame = pd.DataFrame(rows)[FEATURES]
        return np.asarray(self.pipeline.predict(frame), dtype=float)

    def predict_alone(self, rows: pd.DataFrame | list[dict]) -> np.ndarray:
        """The pipeline's answer for each row scored alone (in a larger call BLAS may add another way round)."""
        frame = pd.DataFrame(rows)[FEATURES]
        answers = []
        for row in frame.itertuples(index=False):
            if row not in self._answers_alone:
                self._answers_alone[row] = float(self.pipeline.predict(pd.DataFrame([row], columns=FEATURES))[0])
            answers.append(self._answers_alone[row])
        return np.array(answers)


def train(data: pd.DataFrame, work_dir: Path) -> TrainedModel:
    """A linear regression fitted the way the trainer fits one (2 folds, finalized on all rows)."""
    os.environ.setdefault("PYCARET_CUSTOM_LOGGING_PATH", str(work_dir / "pycaret.log"))
    os.environ.setdefault("PYCARET_CUSTOM_LOGGING_LEVEL", "WARNING")
    import matplotlib

    matplotlib.use("Agg")
    from pycaret.regression import RegressionExperiment

    previous = Path.cwd()
    os.chdir(work_dir)
    try:
        experiment = RegressionExperiment()
        experiment.setup(data, target="sales", session_id=0, fold=2, n_jobs=1, verbose=False, html=False, memory=False)
        best = experiment.compare_models(include=["lr"], verbose=False)
        return TrainedModel(experiment.finalize_model(best), data)
    finally:
        os.chdir(previous)


@pytest.fixture(scope="session")
def models(tmp_path_factory) -> dict[str, TrainedModel]:
    """Version 1 fits the supplements rule; version 2 learned sales 1000 units higher (easy to tell apart)."""
    work_dir = tmp_path_factory.mktemp("pycaret")
    data = generate_supplements_sales(rows=600, seed=1)
    shifted = data.assign(sales=data["sales"] + 1000)
    return {"v1": train(data, work_dir), "v2": train(shifted, work_dir)}


@pytest.fixture
def make_app(app_config):
    """Apps that ask the database which version serves on every request (most tests change it between requests)."""

    def factory(**overrides: Any):
        return create_app(
            {**app_config, "PREDICT_BATCH_WINDOW_MS": 1.0, "PREDICT_SERVING_VERSION_TTL_S": 0.0, **overrides}
        )

    return factory


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def headers(app_config) -> dict[str, str]:
    return internal_token_headers(app_config, "predictor", OWNER)


def store_model(
    app,
    model: TrainedModel,
    version: int,
    *,
    active: bool = True,
    owner_id: int = OWNER,
    project_id: int = PROJECT,
    artifact: bytes | None = None,
    sha256: str | None = None,
    signature: str | None = None,
    versions: dict[str, str] | None = None,
) -> int:
    """A model row as the trainer writes it; ``artifact``/``sha256``/``signature`` as an attacker might rewrite them."""
    artifact = model.artifact if artifact is None else artifact
    if signature is None:
        signature = artifact_hmac(app.config["MODEL_SIGNING_KEY"], project_id, version, sha256_hex(artifact))
    with app.app_context():
        if active:
            db.session.execute(update(ModelVersion).where(ModelVersion.project_id == project_id).values(active=False))
        row = ModelVersion(
            project_id=project_id,
            owner_id=owner_id,
            version=version,
            algorithm="Linear Regression",
            target="sales",
            training_run_id=version,
            active=active,
            size_bytes=len(artifact),
            sha256=sha256 or model.sha256,
            artifact_hmac=signature or None,
            artifact=artifact,
            library_versions=versions or library_versions(),
            metrics={"cv": {}, "holdout": {}},
            features=model.features,
            feature_importance=[],
        )
        db.session.add(row)
        db.session.commit()
        return row.id


def activate(app, version: int) -> None:
    with app.app_context():
        db.session.execute(
            update(ModelVersion)
            .where(ModelVersion.project_id == PROJECT)
            .values(active=ModelVersion.version == version)
        )
        db.session.commit()


def predict(client, headers, body=None, *, data=None, content_type=None, query="", extra_headers=None):
    url = f"/api/v1/projects/{PROJECT}/predict{query}"
    all_headers = {**headers, **(extra_headers or {})}
    if body is not None:
        return client.post(url, json=body, headers=all_headers)
    return client.post(url, data=data, content_type=content_type, headers=all_headers)


def parquet_of(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


def sample_rows(rows: int, seed: int = 5) -> pd.DataFrame:
    return generate_supplements_sales(rows=rows, seed=seed)


# --- the three formats give the pipeline's own answers ---------------------------------------------------------


def test_one_object_answers_the_pipelines_own_prediction(app, models, headers):
    store_model(app, models["v1"], 1)
    response = predict(app.test_client(), headers, CREATINA_SATURDAY)
    assert response.status_code == 200, response.json
    assert response.json == {
        "prediction": models["v1"].predict([CREATINA_SATURDAY])[0],
        "model_version": 1,
    }


def test_the_supplements_example_follows_its_rule(app, models, headers):
    store_model(app, models["v1"], 1)
    client = app.test_client()
    plain = predict(client, headers, CREATINA_SATURDAY).json["prediction"]
    promoted = predict(client, headers, {**CREATINA_SATURDAY, "promotion": 1}).json["prediction"]
    assert abs(plain - expected_sales("Creatina", 150, 0, "Saturday")) < 3
    assert promoted > plain + 20
    assert abs(promoted - expected_sales("Creatina", 150, 1, "Saturday")) < 3


def test_records_answer_the_pipelines_own_predictions_in_order(app, models, headers):
    store_model(app, models["v1"], 1)
    rows = sample_rows(300)
    records = rows[FEATURES].to_dict(orient="records")
    response = predict(app.test_client(), headers, {"records": records})
    assert response.status_code == 200, response.json
    assert response.json["model_version"] == 1
    assert response.json["predictions"] == models["v1"].predict_alone(rows).tolist()


def test_parquet_in_parquet_out_appends_a_prediction_column(app, models, headers):
    store_model(app, models["v1"], 1)
    rows = sample_rows(250).assign(note="kept")
    response = predict(app.test_client(), headers, data=parquet_of(rows), content_type=PARQUET)
    assert response.status_code == 200, response.data[:300]
    assert response.mimetype == PARQUET
    assert response.headers["X-Model-Version"] == "1"
    answered = pq.read_table(io.BytesIO(response.data)).to_pandas()
    assert list(answered.columns) == [*rows.columns, "prediction"]
    pd.testing.assert_frame_equal(answered[list(rows.columns)], rows)
    assert answered["prediction"].tolist() == models["v1"].predict_alone(rows).tolist()
    warnings = json.loads(response.headers["X-Prediction-Warnings"])
    assert warnings[:2] == [
        "Ignored column 'sales': it is what the model predicts.",
        "Ignored columns the model does not use: note.",
    ]


@pytest.mark.parametrize("zone", [None, "America/Sao_Paulo"])
def test_a_scored_table_reads_back_with_the_column_types_it_was_sent_with(zone):
    """Text stays dictionary-encoded while it is scored, yet comes back as text; a time zone comes back too."""
    sent = pa.table(
        {
            "store": ["north", "south", "north"],
            "qty": pa.array([1, 2, 3], pa.int16()),
            "day": pa.array([datetime.date(2024, 5, 4)] * 3, pa.date32()),
            "noted_at": pa.array([pd.Timestamp("2024-05-04 10:00")] * 3, pa.timestamp("us", tz=zone)),
        }
    )
    as_scored = sent.set_column(0, "store", sent.column("store").dictionary_encode())
    assert pq.read_table(pa.BufferReader(parquet_bytes(as_scored))).equals(sent)


def test_parquet_is_scored_in_chunks_with_the_same_answers(make_app, models, headers):
    app = make_app(PREDICT_CHUNK_ROWS=64)
    store_model(app, models["v1"], 1)
    rows = sample_rows(300)[FEATURES]
    response = predict(app.test_client(), headers, data=parquet_of(rows), content_type=PARQUET)
    answered = pq.read_table(io.BytesIO(response.data)).column("prediction").to_pylist()
    assert answered == models["v1"].predict_alone(rows).tolist()


def test_parquet_in_json_records_out_when_the_client_accepts_json(app, models, headers):
    store_model(app, models["v1"], 1)
    rows = sample_rows(120)[FEATURES]
    response = predict(
        app.test_client(),
        headers,
        data=parquet_of(rows),
        content_type=PARQUET,
        extra_headers={"Accept": "application/json"},
    )
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.json["model_version"] == 1
    records = response.json["records"]
    assert [{k: r[k] for k in FEATURES} for r in records] == rows.to_dict(orient="records")
    expected = models["v1"].predict(rows)
    assert [r["prediction"] for r in records] == pytest.approx(expected.tolist(), abs=1e-9)


# --- the input contract over HTTP --------------------------------------------------------------------------------


def test_missing_columns_answer_422_naming_each(app, models, headers):
    store_model(app, models["v1"], 1)
    response = predict(app.test_client(), headers, {"product": "BCAA", "price": 100})
    assert response.status_code == 422
    assert response.json["errors"] == {"promotion": ["missing"], "weekday": ["missing"]}
    assert response.json["code"] == 422 and response.json["status"] == "Unprocessable Entity"


@pytest.mark.parametrize(
    ("column", "value", "expected"),
    [
        ("price", "cento e cinquenta", "expected a number"),
        ("price", None, "a value is required"),
        ("price", {"value": 150}, "nested objects and lists are not accepted"),
        ("weekday", ["Saturday"], "nested objects and lists are not accepted"),
        ("product", "C" * 5000, "text longer than 1000 characters"),
        ("promotion", True, "expected a number"),
    ],
)
def test_wrong_values_answer_422_naming_column_and_row(app, models, headers, column, value, expected):
    store_model(app, models["v1"], 1)
    records = [CREATINA_SATURDAY, {**CREATINA_SATURDAY, column: value}]
    response = predict(app.test_client(), headers, {"records": records})
    assert response.status_code == 422, response.json
    assert list(response.json["errors"]) == [column]
    assert response.json["errors"][column][0].startswith("row 1: ")
    assert expected in response.json["errors"][column][0]


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_literals_answer_422(app, models, headers, literal):
    store_model(app, models["v1"], 1)
    body = json.dumps(CREATINA_SATURDAY).replace("150", literal)
    response = predict(app.test_client(), headers, data=body, content_type="application/json")
    assert response.status_code == 422
    assert response.json["errors"]["price"] == [f"not a finite number, got {float(literal)!r}"]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ("{not json", 400),
        ("[" * 100_000 + "]" * 100_000, 400),
        ("[1, 2]", 422),
        ('{"records": "all of them"}', 422),
        ('{"records": []}', 422),
        ('{"records": [1]}', 422),
    ],
)
def test_malformed_bodies_never_answer_500(app, models, headers, body, status):
    store_model(app, models["v1"], 1)
    response = predict(app.test_client(), headers, data=body, content_type="application/json")
    assert response.status_code == status, response.json
    assert response.json["code"] == status


def test_numbers_as_text_unknown_columns_target_and_new_categories_are_scored_with_warnings(app, models, headers):
    store_model(app, models["v1"], 1)
    body = {"product": "Ômega 3", "price": "150.0", "promotion": "0", "weekday": "Saturday", "sales": 1, "x": 2}
    response = predict(app.test_client(), headers, body)
    assert response.status_code == 200, response.json
    expected = models["v1"].predict([{**CREATINA_SATURDAY, "product": "Ômega 3", "price": 150.0}])[0]
    assert response.json["prediction"] == expected
    assert response.json["warnings"] == [
        "Ignored column 'sales': it is what the model predicts.",
        "Ignored columns the model does not use: x.",
        "Column 'product': values never seen in training: 'Ômega 3'.",
    ]


def test_parquet_with_bad_values_names_column_and_row(app, models, headers):
    store_model(app, models["v1"], 1)
    rows = sample_rows(10)[FEATURES].astype({"price": object})
    rows.loc[7, "price"] = "abc"
    rows = rows.astype({"price": str})
    response = predict(app.test_client(), headers, data=parquet_of(rows), content_type=PARQUET)
    assert response.status_code == 422
    assert response.json["errors"] == {"price": ["row 7: expected a number, got 'abc'"]}


def test_parquet_nested_unreadable_and_missing_columns_answer_422(app, models, headers):
    store_model(app, models["v1"], 1)
    client = app.test_client()
    nested = pa.table({**{c: sample_rows(2)[c] for c in FEATURES}, "tags": [[1, 2], [3]]})
    buffer = io.BytesIO()
    pq.write_table(nested, buffer)
    response = predict(client, headers, data=buffer.getvalue(), content_type=PARQUET)
    assert response.status_code == 422
    assert list(response.json["errors"]) == ["tags"]
    response = predict(client, headers, data=b"PAR1 not really", content_type=PARQUET)
    assert response.status_code == 422
    assert "not a readable parquet file" in response.json["errors"]["body"][0]
    assert "`salesml predict --input FILE` converts CSV and Excel files" in response.json["errors"]["body"][0]
    response = predict(client, headers, data=parquet_of(sample_rows(3)[["product", "price"]]), content_type=PARQUET)
    assert response.status_code == 422
    assert response.json["errors"] == {"promotion": ["missing"], "weekday": ["missing"]}


def test_parquet_accepts_and_refuses_the_same_column_types_as_dataset_uploads(app, models, headers):
    store_model(app, models["v1"], 1)
    client = app.test_client()
    rows = sample_rows(4)[FEATURES]
    categorical = rows.astype({"product": "category", "weekday": "category"})
    response = predict(
        client,
        headers,
        data=parquet_of(categorical),
        content_type=PARQUET,
        extra_headers={"Accept": "application/json"},
    )
    assert response.status_code == 200, response.json
    expected = models["v1"].predict(rows).tolist()
    assert [r["prediction"] for r in response.json["records"]] == pytest.approx(expected, rel=1e-9)
    refused = pa.table(
        {
            **{c: rows[c] for c in FEATURES},
            "half": pa.array([1.0] * 4, type=pa.float16()),
            "nothing": pa.nulls(4),
            "raw": pa.array([b"x"] * 4, type=pa.binary()),
        }
    )
    buffer = io.BytesIO()
    pq.write_table(refused, buffer)
    response = predict(client, headers, data=buffer.getvalue(), content_type=PARQUET)
    assert response.status_code == 422
    assert sorted(response.json["errors"]) == ["half", "nothing", "raw"]


def test_a_parquet_text_bomb_is_refused_before_it_is_expanded(make_app, models, headers):
    app = make_app(PREDICT_MAX_DECODED_BYTES=5_000_000)
    store_model(app, models["v1"], 1)
    long_text = "W" * 100_000
    rows = pd.DataFrame({"product": [long_text] * 1000, "price": 100.0, "promotion": 0, "weekday": "Monday"})
    body = parquet_of(rows)
    assert len(body) < 100_000
    response = predict(app.test_client(), headers, data=body, content_type=PARQUET)
    assert response.status_code == 413
    assert "decodes to more than" in response.json["message"]


# --- content types and limits ------------------------------------------------------------------------------------


class CreatesFileWhenUnpickled:
    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (str(self.path), "w"))


@pytest.mark.parametrize("content_type", ["application/octet-stream", "application/x-pickle", "text/plain"])
def test_other_content_types_answer_415_and_are_never_read(app, models, headers, tmp_path, content_type):
    store_model(app, models["v1"], 1)
    canary = tmp_path / "unpickled"
    response = predict(
        app.test_client(), headers, data=pickle.dumps(CreatesFileWhenUnpickled(canary)), content_type=content_type
    )
    assert response.status_code == 415
    assert response.json["code"] == 415
    assert not canary.exists()


def test_more_rows_than_the_limit_answer_413(make_app, models, headers):
    app = make_app(PREDICT_MAX_ROWS=10)
    store_model(app, models["v1"], 1)
    client = app.test_client()
    rows = sample_rows(11)[FEATURES]
    response = predict(client, headers, {"records": rows.to_dict(orient="records")})
    assert response.status_code == 413
    assert response.json["message"] == "11 records; at most 10 are scored per request."
    response = predict(client, headers, data=parquet_of(rows), content_type=PARQUET)
    assert response.status_code == 413
    assert response.json["message"] == "The file has 11 rows; at most 10 are scored per request."
    assert predict(client, headers, {"records": rows.head(10).to_dict(orient="records")}).status_code == 200


def test_bodies_over_the_byte_limits_answer_413(make_app, models, headers):
    app = make_app(PREDICT_MAX_JSON_BYTES=4000, PREDICT_MAX_PARQUET_BYTES=3000)
    store_model(app, models["v1"], 1)
    client = app.test_client()
    rows = sample_rows(100)[FEATURES]
    assert predict(client, headers, {"records": rows.to_dict(orient="records")}).status_code == 413
    body = parquet_of(rows)
    assert len(body) > 3000
    response = predict(client, headers, data=body, content_type=PARQUET)
    assert response.status_code == 413
    assert response.json["code"] == 413


def test_parquet_bodies_may_exceed_the_json_limit(make_app, models, headers):
    app = make_app(PREDICT_MAX_JSON_BYTES=1000)
    store_model(app, models["v1"], 1)
    body = parquet_of(sample_rows(100)[FEATURES])
    assert len(body) > 1000
    assert predict(app.test_client(), headers, data=body, content_type=PARQUET).status_code == 200


# --- which model serves ------------------------------------------------------------------------------------------


def test_before_any_model_answers_409(app, headers):
    response = predict(app.test_client(), headers, CREATINA_SATURDAY)
    assert response.status_code == 409
    assert response.json["message"] == (
        f"No model serves this project yet: train one first (POST /api/v1/projects/{PROJECT}/train)."
    )


def test_another_users_model_never_serves(app, models, app_config):
    store_model(app, models["v1"], 1, owner_id=OWNER)
    stranger = internal_token_headers(app_config, "predictor", OTHER_USER)
    client = app.test_client()
    assert predict(client, stranger, CREATINA_SATURDAY).status_code == 409
    pinned = predict(client, stranger, CREATINA_SATURDAY, query="?version=1")
    assert pinned.status_code == 404
    assert pinned.json["message"] == "Model version not found."


def test_requests_without_the_internal_token_answer_401(app, models):
    store_model(app, models["v1"], 1)
    response = app.test_client().post(f"/api/v1/projects/{PROJECT}/predict", json=CREATINA_SATURDAY)
    assert response.status_code == 401


def test_pinned_versions_and_activation_changes_take_effect_without_restart(app, models, headers):
    client = app.test_client()
    store_model(app, models["v1"], 1)
    v1 = models["v1"].predict([CREATINA_SATURDAY])[0]
    v2 = models["v2"].predict([CREATINA_SATURDAY])[0]
    assert predict(client, headers, CREATINA_SATURDAY).json == {"prediction": v1, "model_version": 1}

    store_model(app, models["v2"], 2)
    assert predict(client, headers, CREATINA_SATURDAY).json == {"prediction": v2, "model_version": 2}
    assert predict(client, headers, CREATINA_SATURDAY, query="?version=1").json == {
        "prediction": v1,
        "model_version": 1,
    }

    activate(app, 1)
    assert predict(client, headers, CREATINA_SATURDAY).json == {"prediction": v1, "model_version": 1}
    assert predict(client, headers, CREATINA_SATURDAY, query="?version=2").json["model_version"] == 2
    assert predict(client, headers, CREATINA_SATURDAY, query="?version=3").status_code == 404

    activate(app, 0)
    assert predict(client, headers, CREATINA_SATURDAY).status_code == 409
    assert predict(client, headers, CREATINA_SATURDAY, query="?version=2").status_code == 200


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@contextmanager
def counted_queries(app) -> Iterator[list[str]]:
    """The SQL statements the app's engine runs inside the block."""
    statements: list[str] = []

    def record(conn, cursor, statement, *args):
        statements.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_which_version_serves_is_remembered_for_its_ttl_without_asking_the_database(make_app, models, headers):
    app = make_app(PREDICT_SERVING_VERSION_TTL_S=2.0)
    clock = app.extensions[SERVING_VERSIONS_EXTENSION].clock = FakeClock()
    client = app.test_client()
    store_model(app, models["v1"], 1)
    assert predict(client, headers, CREATINA_SATURDAY).json["model_version"] == 1
    store_model(app, models["v2"], 2)
    with counted_queries(app) as statements:
        assert predict(client, headers, CREATINA_SATURDAY).json["model_version"] == 1
    assert statements == []
    assert predict(client, headers, CREATINA_SATURDAY, query="?version=2").json["model_version"] == 2
    with counted_queries(app) as statements:
        assert predict(client, headers, CREATINA_SATURDAY, query="?version=2").json["model_version"] == 2
    assert statements == []

    clock.now += 2.0
    assert predict(client, headers, CREATINA_SATURDAY).json["model_version"] == 2
    activate(app, 0)
    clock.now += 2.0
    assert predict(client, headers, CREATINA_SATURDAY).status_code == 409
    assert predict(client, headers, CREATINA_SATURDAY, query="?version=1").json["model_version"] == 1


def test_the_remembered_version_is_the_callers_own(make_app, models, app_config):
    app = make_app(PREDICT_SERVING_VERSION_TTL_S=60.0)
    client = app.test_client()
    store_model(app, models["v1"], 1)
    assert predict(client, internal_token_headers(app_config, "predictor", OWNER), CREATINA_SATURDAY).status_code == 200
    stranger = internal_token_headers(app_config, "predictor", OTHER_USER)
    assert predict(client, stranger, CREATINA_SATURDAY).status_code == 409
    assert predict(client, stranger, CREATINA_SATURDAY, query="?version=1").status_code == 404


def count_artifact_loads(monkeypatch) -> list[str]:
    """Record the sha256 of every artifact the predictor reads and unpickles (a cache miss)."""
    loads: list[str] = []

    def recording_load_pipeline(artifact, *args, **kwargs):
        loads.append(sha256_hex(artifact))
        return load_pipeline(artifact, *args, **kwargs)

    monkeypatch.setattr(model_cache, "load_pipeline", recording_load_pipeline)
    return loads


def test_a_loaded_pipeline_is_reused_until_evicted_by_the_byte_budget(make_app, models, headers, monkeypatch):
    app = make_app(PREDICTOR_CACHE_MAX_BYTES=len(models["v1"].artifact) + len(models["v2"].artifact) - 1)
    loads = count_artifact_loads(monkeypatch)
    client = app.test_client()
    v1, v2 = models["v1"].sha256, models["v2"].sha256
    store_model(app, models["v1"], 1)
    for _ in range(3):
        assert predict(client, headers, CREATINA_SATURDAY).status_code == 200
    assert loads == [v1]
    store_model(app, models["v2"], 2)
    predict(client, headers, CREATINA_SATURDAY)
    predict(client, headers, CREATINA_SATURDAY)
    assert loads == [v1, v2]
    # Both do not fit: version 1 was evicted for version 2, and loading it again evicts version 2.
    predict(client, headers, CREATINA_SATURDAY, query="?version=1")
    predict(client, headers, CREATINA_SATURDAY, query="?version=1")
    predict(client, headers, CREATINA_SATURDAY)
    assert loads == [v1, v2, v1, v2]


# --- compiled scorer or pipeline -------------------------------------------------------------------------------


def loaded_model(app) -> model_cache.LoadedModel:
    with app.app_context():
        return app.extensions[MODEL_CACHE_EXTENSION].get(find_serving_version(PROJECT, OWNER))


def test_the_compiled_scorer_serves_json_and_parquet_without_the_pipeline(make_app, models, headers, monkeypatch):
    app = make_app(PREDICT_CHUNK_ROWS=40)
    store_model(app, models["v1"], 1)
    model = loaded_model(app)
    assert model.scorer is not None and model.batcher is None

    def refuse(frame, *args, **kwargs):
        raise AssertionError("the pipeline was called")

    monkeypatch.setattr(model.pipeline, "predict", refuse)
    client = app.test_client()
    rows = sample_rows(100)[FEATURES]
    one = predict(client, headers, CREATINA_SATURDAY)
    assert one.json == {"prediction": models["v1"].predict_alone([CREATINA_SATURDAY])[0], "model_version": 1}
    records = predict(client, headers, {"records": rows.to_dict(orient="records")})
    assert records.json["predictions"] == models["v1"].predict_alone(rows).tolist()
    parquet = predict(client, headers, data=parquet_of(rows), content_type=PARQUET)
    assert pq.read_table(io.BytesIO(parquet.data)).column("prediction").to_pylist() == records.json["predictions"]


def test_with_compiled_scoring_off_the_pipeline_serves(make_app, models, headers, monkeypatch):
    app = make_app(PREDICT_COMPILED=False, PREDICT_BATCHING=False)
    store_model(app, models["v1"], 1)
    assert loaded_model(app).scorer is None
    spy = PipelineSpy(app, monkeypatch)
    rows = sample_rows(30)[FEATURES]
    response = predict(app.test_client(), headers, {"records": rows.to_dict(orient="records")})
    assert response.json["predictions"] == models["v1"].predict(rows).tolist()
    assert spy.calls == [30]


# --- integrity ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "rewritten",
    ["artifact only", "artifact and its sha256", "artifact, sha256 and an HMAC under a guessed key", "HMAC removed"],
)
def test_an_altered_artifact_is_refused_and_never_unpickled(app, models, headers, tmp_path, rewritten):
    canary = tmp_path / "pwned"
    payload = pickle.dumps(CreatesFileWhenUnpickled(canary))
    proof = tmp_path / "proof"
    joblib.load(io.BytesIO(pickle.dumps(CreatesFileWhenUnpickled(proof))))
    assert proof.exists(), "the payload must really run code when unpickled, or this test proves nothing"

    genuine_hmac = artifact_hmac(app.config["MODEL_SIGNING_KEY"], PROJECT, 1, models["v1"].sha256)
    sha256, signature = {
        "artifact only": (models["v1"].sha256, genuine_hmac),
        "artifact and its sha256": (sha256_hex(payload), genuine_hmac),
        "artifact, sha256 and an HMAC under a guessed key": (
            sha256_hex(payload),
            artifact_hmac("guess" * 8, PROJECT, 1, sha256_hex(payload)),
        ),
        "HMAC removed": (sha256_hex(payload), ""),
    }[rewritten]
    store_model(app, models["v1"], 1, artifact=payload, sha256=sha256, signature=signature)
    for _ in range(2):
        response = predict(app.test_client(), headers, CREATINA_SATURDAY)
        assert response.status_code == 409
        assert response.json["message"] == (
            "Model version 1 cannot serve: its artifact failed its integrity check. "
            "Retrain or activate another version."
        )
    assert not canary.exists()


def test_an_artifact_signed_with_another_key_is_refused(app, models, headers):
    signature = artifact_hmac("another-key-" + "x" * 32, PROJECT, 1, models["v1"].sha256)
    store_model(app, models["v1"], 1, signature=signature)
    response = predict(app.test_client(), headers, CREATINA_SATURDAY)
    assert response.status_code == 409
    assert "integrity check" in response.json["message"]


def test_an_artifact_from_other_library_versions_is_refused(app, models, headers):
    store_model(app, models["v1"], 1, versions={**library_versions(), "scikit-learn": "0.0.1"})
    response = predict(app.test_client(), headers, CREATINA_SATURDAY)
    assert response.status_code == 409
    assert "integrity check" in response.json["message"]


# --- micro-batching ----------------------------------------------------------------------------------------------


WAIT_S = 60.0


@pytest.fixture
def pipeline_app(make_app):
    """Models served through ``pipeline.predict``: batching is for them (a compiled scorer answers at once)."""
    return make_app(PREDICT_COMPILED=False)


class PipelineSpy:
    """Wraps the cached pipeline's own predict: records the rows of every call, can hold the first call until
    ``release`` is set, and raises on rows priced ``poison_price`` (a valid request the pipeline fails on)."""

    def __init__(self, app, monkeypatch, hold_first: bool = False, poison_price: float | None = None) -> None:
        with app.app_context():
            self.model = app.extensions[MODEL_CACHE_EXTENSION].get(find_serving_version(PROJECT, OWNER))
        self.calls: list[int] = []
        self.first_call_started = threading.Event()
        self.release = threading.Event()
        if not hold_first:
            self.release.set()
        self.poison_price = poison_price
        self._lock = threading.Lock()
        self._original = self.model.pipeline.predict
        monkeypatch.setattr(self.model.pipeline, "predict", self.predict)

    def predict(self, frame, *args, **kwargs):
        with self._lock:
            self.calls.append(len(frame))
        self.first_call_started.set()
        assert self.release.wait(WAIT_S)
        if self.poison_price is not None and (frame["price"] == self.poison_price).any():
            raise ValueError("the pipeline cannot score this price")
        return self._original(frame, *args, **kwargs)

    def wait_until_queued(self, count: int) -> None:
        """Until ``count`` requests wait in the model's batcher queue (its private state: the only way to know)."""
        deadline = time.monotonic() + WAIT_S
        while len(self.model.batcher._queue) < count:
            assert time.monotonic() < deadline, f"only {len(self.model.batcher._queue)} of {count} were queued"
            time.sleep(0.001)


def predict_behind_a_held_call(app, headers, spy: PipelineSpy, bodies: list[dict]) -> list:
    """``bodies[0]`` is scored alone and held there while the others queue up behind it; then the spy releases."""

    def one(body):
        return predict(app.test_client(), headers, body)

    with ThreadPoolExecutor(len(bodies)) as pool:
        first = pool.submit(one, bodies[0])
        assert spy.first_call_started.wait(WAIT_S)
        rest = [pool.submit(one, body) for body in bodies[1:]]
        spy.wait_until_queued(len(rest))
        spy.release.set()
        return [first.result(WAIT_S)] + [future.result(WAIT_S) for future in rest]


def predict_concurrently(app, headers, bodies: list[dict]) -> list:
    barrier = threading.Barrier(len(bodies))

    def one(body):
        client = app.test_client()
        barrier.wait()
        return predict(client, headers, body)

    with ThreadPoolExecutor(len(bodies)) as pool:
        return list(pool.map(one, bodies))


def test_64_concurrent_requests_each_get_their_own_answer_from_two_calls(pipeline_app, models, headers, monkeypatch):
    app = pipeline_app
    store_model(app, models["v1"], 1)
    spy = PipelineSpy(app, monkeypatch, hold_first=True)
    bodies = [
        {**CREATINA_SATURDAY, "price": 60 + 4 * i, "promotion": i % 2, "product": ["BCAA", "Creatina"][i % 2]}
        for i in range(64)
    ]
    responses = predict_behind_a_held_call(app, headers, spy, bodies)
    expected = models["v1"].predict(bodies)
    for body, response, answer in zip(bodies, responses, expected, strict=True):
        assert response.status_code == 200, response.json
        # Its own answer: the pipeline scored it in a call of 63 rows, not 64, and on some CPUs BLAS then adds in
        # another order (the last bit may differ; the compiled scorer is the one exact in any batch).
        assert response.json == {"prediction": pytest.approx(answer, rel=1e-12), "model_version": 1}, body
    assert spy.calls == [1, 63]


def test_without_batching_each_request_is_its_own_call(make_app, models, headers, monkeypatch):
    app = make_app(PREDICT_BATCHING=False, PREDICT_COMPILED=False)
    store_model(app, models["v1"], 1)
    spy = PipelineSpy(app, monkeypatch)
    bodies = [{**CREATINA_SATURDAY, "price": 60 + i} for i in range(8)]
    responses = predict_concurrently(app, headers, bodies)
    assert [r.json["prediction"] for r in responses] == models["v1"].predict(bodies).tolist()
    assert spy.calls == [1] * 8


def test_a_request_the_pipeline_fails_on_does_not_disturb_the_others_in_its_batch(
    pipeline_app, models, headers, monkeypatch
):
    app = pipeline_app
    store_model(app, models["v1"], 1)
    spy = PipelineSpy(app, monkeypatch, hold_first=True, poison_price=63.5)
    bodies = [{**CREATINA_SATURDAY, "price": 60 + i} for i in range(8)]
    bodies[3] = {**CREATINA_SATURDAY, "price": 63.5}
    responses = predict_behind_a_held_call(app, headers, spy, bodies)
    good = [body for i, body in enumerate(bodies) if i != 3]
    assert responses[3].status_code == 422
    assert "could not score" in responses[3].json["message"]
    assert [r.json["prediction"] for i, r in enumerate(responses) if i != 3] == models["v1"].predict(good).tolist()
    # The first alone, the other seven together (which fails), then each of the seven alone.
    assert spy.calls == [1, 7] + [1] * 7


def test_a_prediction_not_answered_in_time_is_503(make_app, models, headers, monkeypatch):
    app = make_app(PREDICT_BATCH_TIMEOUT_S=0.05, PREDICT_COMPILED=False)
    store_model(app, models["v1"], 1)
    spy = PipelineSpy(app, monkeypatch, hold_first=True)
    try:
        response = predict(app.test_client(), headers, CREATINA_SATURDAY)
    finally:
        spy.release.set()
    assert response.status_code == 503
    assert response.json["code"] == 503
    assert "retry shortly" in response.json["message"]
    # As the message says, a retry succeeds (more than once on a loaded machine: the timeout is 50 ms).
    deadline = time.monotonic() + WAIT_S
    retried = predict(app.test_client(), headers, CREATINA_SATURDAY)
    while retried.status_code == 503 and time.monotonic() < deadline:
        retried = predict(app.test_client(), headers, CREATINA_SATURDAY)
    assert retried.status_code == 200, retried.json
