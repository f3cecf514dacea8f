"""Decisions, not just numbers: what-if curves and the best price, why a prediction, and actuals reports, on models
trained for real by PyCaret on the supplements example (sales fall 0.2 a real of price; promotion +30, weekend +15).

Model rows are written as the trainer writes them, with the training profile (background rows and feature
distributions) and the holdout metrics the trainer records.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import update

from demo.supplements import expected_sales, generate_supplements_sales
from harness.data import parquet_bytes
from services.predictor import create_app
from services.trainer.automl import describe_features
from services.trainer.model_evaluation import training_profile
from shared.db import db
from shared.media_types import PARQUET
from shared.model_artifacts import artifact_hmac, dump_pipeline, library_versions, sha256_hex
from shared.regression_metrics import regression_scores
from shared.training_records import ModelVersion
from tests.conftest import internal_token_headers

OWNER, STRANGER, PROJECT = 7, 8, 1
BASE = {"product": "Multivitamínico", "promotion": 0, "weekday": "Saturday"}


class Trained:
    def __init__(self, pipeline: Any, training: pd.DataFrame, holdout: pd.DataFrame, algorithm: str) -> None:
        self.pipeline = pipeline
        self.algorithm = algorithm
        self.artifact = dump_pipeline(pipeline)
        self.features = describe_features(training, "sales")
        self.profile = training_profile(training, "sales", seed=0)
        predicted = pipeline.predict(holdout.drop(columns="sales"))
        self.holdout = regression_scores(holdout["sales"].to_numpy(), np.asarray(predicted))


def train(model_id: str, work_dir: Path) -> Trained:
    os.environ.setdefault("PYCARET_CUSTOM_LOGGING_PATH", str(work_dir / "pycaret.log"))
    import matplotlib

    matplotlib.use("Agg")
    from pycaret.regression import RegressionExperiment

    data = generate_supplements_sales(rows=900, seed=1)
    training, holdout = data.iloc[:700], data.iloc[700:]
    previous = Path.cwd()
    os.chdir(work_dir)
    try:
        experiment = RegressionExperiment()
        experiment.setup(training, target="sales", session_id=0, fold=2, n_jobs=1, verbose=False, html=False)
        model = experiment.create_model(model_id, verbose=False)
        return Trained(experiment.finalize_model(model), training, holdout, model_id)
    finally:
        os.chdir(previous)


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Trained]:
    work_dir = tmp_path_factory.mktemp("pycaret")
    return {model_id: train(model_id, work_dir) for model_id in ("lr", "gbr")}


@pytest.fixture
def app(app_config):
    return create_app({**app_config, "PREDICT_SERVING_VERSION_TTL_S": 0.0})


@pytest.fixture
def client(app):
    return app.test_client()


def headers(app, user: int = OWNER) -> dict[str, str]:
    return internal_token_headers(app.config, "predictor", user)


def serve(app, model: Trained, version: int = 1, with_profile: bool = True) -> None:
    with app.app_context():
        db.session.execute(update(ModelVersion).where(ModelVersion.project_id == PROJECT).values(active=False))
        db.session.add(
            ModelVersion(
                project_id=PROJECT,
                owner_id=OWNER,
                version=version,
                algorithm=model.algorithm,
                target="sales",
                training_run_id=version,
                active=True,
                size_bytes=len(model.artifact),
                sha256=sha256_hex(model.artifact),
                artifact_hmac=artifact_hmac(
                    app.config["MODEL_SIGNING_KEY"], PROJECT, version, sha256_hex(model.artifact)
                ),
                artifact=model.artifact,
                library_versions=library_versions(),
                metrics={"cv": {}, "holdout": model.holdout},
                features=model.features,
                feature_importance=[],
                training_profile=model.profile if with_profile else None,
            )
        )
        db.session.commit()


def post(client, app, route: str, body: Any = None, user: int = OWNER, **kwargs: Any):
    return client.post(f"/api/v1/projects/{PROJECT}/{route}", json=body, headers=headers(app, user), **kwargs)


# --- what-if ---------------------------------------------------------------------------------------------------


def test_the_price_curve_falls_and_the_revenue_maximising_price_matches_the_rule(app, client, models):
    serve(app, models["lr"])
    body = {"base": BASE, "vary": [{"column": "price", "from": 50, "to": 350, "steps": 31}], "revenue_of": "price"}
    answer = post(client, app, "what-if", body)
    assert answer.status_code == 200, answer.json
    points = answer.json["points"]
    assert [point["price"] for point in points] == pytest.approx(np.linspace(50, 350, 31))
    predictions = np.array([point["prediction"] for point in points])
    assert np.all(np.diff(predictions) < 0.5), "sales fall with price, within noise"
    assert predictions[0] - predictions[-1] == pytest.approx(0.2 * 300, rel=0.1)
    assert all(point["revenue"] == pytest.approx(point["price"] * point["prediction"]) for point in points)
    rule = {
        price: price * expected_sales("Multivitamínico", price, 0, "Saturday") for price in np.linspace(50, 350, 31)
    }
    assert abs(answer.json["best"]["price"] - max(rule, key=rule.get)) <= 10  # within one step of the rule's best
    assert answer.json["model_version"] == 1


def test_two_columns_make_a_grid_scored_in_one_call(app, client, models):
    serve(app, models["lr"])
    body = {
        "base": {"product": "Creatina", "weekday": "Monday"},
        "vary": [{"column": "price", "values": [100, 200]}, {"column": "promotion", "values": [0, 1]}],
    }
    answer = post(client, app, "what-if", body)
    assert answer.status_code == 200, answer.json
    points = answer.json["points"]
    assert [(point["price"], point["promotion"]) for point in points] == [(100, 0), (100, 1), (200, 0), (200, 1)]
    assert points[1]["prediction"] - points[0]["prediction"] == pytest.approx(30, abs=3)  # the promotion's +30
    assert "best" not in answer.json


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"vary": [{"column": "colour", "values": ["red"]}]}, "vary", "`colour` is not a feature"),
        ({"vary": [{"column": "weekday", "from": 1, "to": 2, "steps": 3}]}, "vary", "is not a number"),
        ({"vary": [{"column": "price", "from": 1, "to": 2, "steps": 2000}]}, "vary", "at most 1,000"),
        ({"vary": [{"column": "price", "values": [1, 2]}, {"column": "price", "values": [3]}]}, "vary", "twice"),
        ({"vary": [{"column": "price", "values": [1]}], "revenue_of": "weekday"}, "revenue_of", "not a numeric"),
        ({"vary": [{"column": "price", "values": ["cheap"]}]}, "price", "expected a number"),
        ({"vary": [{"column": "price", "from": 1}]}, "vary", "`from`, `to` and `steps`"),
        ({"vary": []}, "vary", "Length"),
    ],
)
def test_bad_what_if_requests_are_422_naming_what_to_fix(app, client, models, body, field, message):
    serve(app, models["lr"])
    answer = post(client, app, "what-if", {"base": BASE, **body})
    assert answer.status_code == 422, answer.json
    assert message.lower() in str(answer.json["errors"][field]).lower() or message in str(answer.json["errors"])


def test_a_bad_base_row_is_named_once_not_once_per_point(app, client, models):
    serve(app, models["lr"])
    body = {"base": {**BASE, "promotion": "often"}, "vary": [{"column": "price", "from": 50, "to": 350, "steps": 31}]}
    answer = post(client, app, "what-if", body)
    assert answer.status_code == 422
    assert answer.json["errors"] == {"promotion": ["expected a number, got 'often'"]}


# --- why this prediction ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("model_id", ["lr", "gbr"])
def test_contributions_add_up_to_the_prediction_and_the_promotion_raises_it(app, client, models, model_id):
    serve(app, models[model_id])
    row = {"product": "Creatina", "price": 150, "promotion": 1, "weekday": "Saturday"}
    answer = post(client, app, "predict?explain=true", row)
    assert answer.status_code == 200, answer.json
    explanation = answer.json["explanation"]
    total = explanation["baseline"] + sum(entry["effect"] for entry in explanation["contributions"])
    assert total == pytest.approx(answer.json["prediction"], rel=1e-6)
    effects = {entry["feature"]: entry for entry in explanation["contributions"]}
    assert set(effects) == {"product", "price", "promotion", "weekday"}
    assert effects["promotion"]["value"] == 1 and effects["promotion"]["effect"] > 5
    assert effects["weekday"]["effect"] > 0  # Saturday: +15 over an average day
    assert explanation["summary"].startswith("Predicted sales ") and "promotion = 1" in explanation["summary"]
    records = post(client, app, "predict?explain=true", {"records": [row, {**row, "promotion": 0}]}).json
    assert len(records["explanations"]) == 2
    for prediction, explained in zip(records["predictions"], records["explanations"], strict=True):
        explained_total = explained["baseline"] + sum(entry["effect"] for entry in explained["contributions"])
        assert explained_total == pytest.approx(prediction, rel=1e-6)


def test_explanations_are_bounded_json_only_and_need_a_recorded_background(app, client, models):
    serve(app, models["lr"])
    row = {"product": "Creatina", "price": 150, "promotion": 1, "weekday": "Saturday"}
    too_many = post(client, app, "predict?explain=true", {"records": [row] * 11})
    assert too_many.status_code == 422 and "at most 10 are explained" in str(too_many.json["errors"])
    parquet = client.post(
        f"/api/v1/projects/{PROJECT}/predict?explain=true",
        data=parquet_bytes(pd.DataFrame([row])),
        content_type=PARQUET,
        headers=headers(app),
    )
    assert parquet.status_code == 422 and "explain" in parquet.json["errors"]
    serve(app, models["lr"], version=2, with_profile=False)
    older = post(client, app, "predict?explain=true", row)
    assert older.status_code == 409 and "Retrain" in older.json["message"]
    assert post(client, app, "predict", row).status_code == 200


# --- actuals ---------------------------------------------------------------------------------------------------


def test_actuals_like_the_training_data_give_the_validation_error_and_no_drift(app, client, models):
    serve(app, models["gbr"])
    actuals = generate_supplements_sales(rows=400, seed=9)
    answer = post(client, app, "actuals", {"records": actuals.to_dict(orient="records")})
    assert answer.status_code == 201, answer.json
    report = answer.json
    assert report["rows"] == 400 and report["model_version"] == 1
    assert report["metrics"]["MAE"] == pytest.approx(report["validation"]["MAE"], rel=0.3)
    assert {entry["feature"] for entry in report["drift"]} == {"product", "price", "promotion", "weekday"}
    assert all(entry["level"] == "none" for entry in report["drift"]), report["drift"]
    assert report["recommendation"]["retrain"] is False and "keep the model" in report["recommendation"]["reason"]
    listed = client.get(f"/api/v1/projects/{PROJECT}/actuals", headers=headers(app)).json
    assert [entry["id"] for entry in listed] == [report["id"]]
    fetched = client.get(f"/api/v1/projects/{PROJECT}/actuals/{report['id']}", headers=headers(app))
    assert fetched.json == report


def test_shifted_prices_and_a_changed_rule_recommend_retraining_and_name_the_column(app, client, models):
    serve(app, models["gbr"])
    actuals = generate_supplements_sales(rows=400, seed=9)
    actuals["price"] = actuals["price"] * 0.3 + 300  # the shop moved to premium prices
    actuals["sales"] = actuals["sales"] * 0.6  # and the rule changed
    answer = client.post(
        f"/api/v1/projects/{PROJECT}/actuals", data=parquet_bytes(actuals), content_type=PARQUET, headers=headers(app)
    )
    assert answer.status_code == 201, answer.json
    report = answer.json
    assert report["recommendation"]["retrain"] is True
    reason = report["recommendation"]["reason"]
    assert "above validation" in reason and "`price`" in reason
    assert report["drift"][0]["feature"] == "price" and report["drift"][0]["level"] == "major"


def test_bad_actuals_are_422_and_another_users_reports_look_missing(app, client, models):
    serve(app, models["gbr"])
    rows = generate_supplements_sales(rows=5, seed=2).to_dict(orient="records")
    without_target = [{key: value for key, value in row.items() if key != "sales"} for row in rows]
    assert post(client, app, "actuals", {"records": without_target}).json["errors"] == {"sales": ["missing"]}
    bad_target = post(client, app, "actuals", {"records": [{**rows[0], "sales": "lots"}]})
    assert bad_target.status_code == 422 and "sales" in bad_target.json["errors"]
    assert post(client, app, "actuals", {"rows": rows}).status_code == 422
    report = post(client, app, "actuals", {"records": rows}).json
    theirs = client.get(f"/api/v1/projects/{PROJECT}/actuals/{report['id']}", headers=headers(app, STRANGER))
    missing = client.get(f"/api/v1/projects/{PROJECT}/actuals/{report['id'] + 99}", headers=headers(app))
    assert theirs.status_code == missing.status_code == 404 and theirs.json == missing.json
    assert client.get(f"/api/v1/projects/{PROJECT}/actuals", headers=headers(app, STRANGER)).json == []
