"""Forecasting through the services: POST /train with task forecast (checked against the data before anything is
queued), a real worker training it, the model's forecast block and backtest, and POST /forecast on the predictor.

The services run as in production but in this process (the trainer and predictor apps, a worker's ``run_once``);
the end-to-end test through the gateway is in tests/e2e/test_forecast_e2e.py.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pandas as pd
import pytest

from harness.data import monthly_store_sales, sales_frame
from services.predictor import create_app as create_predictor
from services.trainer.worker import TrainingWorker
from shared.media_types import PARQUET
from tests.conftest import internal_token_headers
from tests.trainer_fixtures import dispose_engines

FAST = {"include": ["snaive", "naive", "theta", "ridge"], "backtest_windows": 2}


@pytest.fixture
def predictor(app_config):
    app = create_predictor({**app_config, "PREDICT_SERVING_VERSION_TTL_S": 0.0})
    yield app
    dispose_engines(app)


def train(app, project, **body: Any):
    return app.test_client().post(
        f"/api/v1/projects/{project.project_id}/train",
        json={"task": "forecast", **body},
        headers=internal_token_headers(app.config, "trainer", project.user_id),
    )


def get(app, project, path: str, service: str):
    return app.test_client().get(
        f"/api/v1/projects/{project.project_id}/{path}",
        headers=internal_token_headers(app.config, service, project.user_id),
    )


def forecast(app, project, body: dict[str, Any] | None = None, accept: str | None = None, **kwargs: Any):
    headers = internal_token_headers(app.config, "predictor", project.user_id)
    return app.test_client().post(
        f"/api/v1/projects/{project.project_id}/forecast",
        json=body or {},
        headers={**headers, "Accept": accept} if accept else headers,
        **kwargs,
    )


STORES = monthly_store_sales(months=60)
BY_STORE = {"series_columns": ["store"]}


@pytest.mark.parametrize(
    ("frame", "body", "field", "message"),
    [
        (sales_frame(rows=80), {}, "date_column", "date"),
        (STORES, {**BY_STORE, "horizon": 60}, "horizon", "horizon"),
        (STORES, {"series_columns": ["region"]}, "series_columns", "region"),
        (STORES, {}, "date_column", "duplicated"),  # 3 stores taken as one series: every date three times
        (STORES, {**BY_STORE, "known_future": ["price"]}, "known_future", "price"),
        (STORES, {**BY_STORE, "sort": "R2"}, "sort", "MASE"),
        (STORES, {**BY_STORE, "include": ["gbr", "arima"]}, "include", "gbr"),
    ],
)
def test_a_forecast_that_cannot_train_is_422_naming_the_problem_with_nothing_queued(
    trainer_app, make_project, frame, body, field, message
):
    project = make_project(frame)
    answer = train(trainer_app, project, **body)
    assert answer.status_code == 422, answer.json
    assert field in answer.json["errors"], answer.json["errors"]
    assert message.lower() in " ".join(answer.json["errors"][field]).lower()
    assert get(trainer_app, project, "training-runs", "trainer").json == []


def test_the_run_records_what_the_engine_inferred(trainer_app, make_project):
    project = make_project(monthly_store_sales(months=60))
    answer = train(trainer_app, project, series_columns=["store"], **FAST)
    assert answer.status_code == 202, answer.json
    params = answer.json["params"]
    assert params["task"] == "forecast" and params["sort"] == "MASE"
    assert params["forecast"] | {"holidays_country": None} == {
        "date_column": "month",
        "series_columns": ["store"],
        "horizon": 12,
        "frequency": "MS",
        "known_future": [],
        "backtest_windows": 2,
        "holidays_country": None,
        "series_count": 3,
        "filled_periods": 0,
    }


@pytest.mark.slow
def test_a_forecast_model_is_trained_served_and_answers_with_intervals(trainer_app, predictor, make_project):
    frame = monthly_store_sales(months=60, promotions=True)
    project = make_project(frame)
    answer = train(trainer_app, project, series_columns=["store"], known_future=["promo"], horizon=6, **FAST)
    assert answer.status_code == 202, answer.json
    assert TrainingWorker(trainer_app, "forecaster").run_once() is True
    run = get(trainer_app, project, f"training-runs/{answer.json['id']}", "trainer").json
    assert run["status"] == "succeeded", run["error"]
    assert "snaive" in {row["model"] for row in run["leaderboard"]}
    assert all("MASE" in row and "reason" in row for row in run["leaderboard"])
    assert run["activation"]["decision"] == "activated"

    model = get(trainer_app, project, "models/1", "trainer").json
    assert model["task"] == "forecast" and model["algorithm"] == run["leaderboard"][0]["model"]
    block = model["forecast"]
    assert (block["date_column"], block["series_columns"], block["frequency"]) == ("month", ["store"], "MS")
    assert (block["horizon"], block["known_future"], block["series_count"]) == (6, ["promo"], 3)
    assert set(block["interval_coverage"]) == {"80", "95"}
    assert "backtest" in model["metrics"] and model["metrics"]["backtest"]["MASE"] is not None
    backtest = get(trainer_app, project, "models/1/backtest", "trainer").json
    assert len(backtest["windows"]) == 2
    assert set(backtest["windows"][0]["rows"][0]) == {"store", "month", "actual", "forecast"}
    assert get(trainer_app, project, "models/1/holdout", "trainer").status_code == 409

    dates = pd.date_range(frame["month"].max(), periods=7, freq="MS")[1:]
    future = [
        {"store": store, "month": date.date().isoformat(), "promo": 0} for store in ("S0", "S1", "S2") for date in dates
    ]
    answered = forecast(predictor, project, {"future": future})
    assert answered.status_code == 200, answered.json
    rows = answered.json["forecasts"]
    assert answered.json["model_version"] == 1 and answered.json["frequency"] == "MS"
    assert len(rows) == 3 * 6 and rows[0]["month"] == dates[0].date().isoformat()
    for row in rows:
        assert row["lower_95"] <= row["lower_80"] <= row["forecast"] <= row["upper_80"] <= row["upper_95"]
    s2 = [row for row in rows if row["store"] == "S2"]
    assert s2[-1]["upper_95"] - s2[-1]["lower_95"] >= s2[0]["upper_95"] - s2[0]["lower_95"]  # wider further out

    missing_promo = forecast(predictor, project, {"future": future[:-1]})
    assert missing_promo.status_code == 422 and "promo" in missing_promo.json["message"]
    unknown = forecast(predictor, project, {"series": [{"store": "S9"}], "future": future})
    assert unknown.status_code == 422 and "S9" in unknown.json["message"]
    too_far = forecast(predictor, project, {"horizon": 7, "future": future})
    assert too_far.status_code == 422 and "horizon" in too_far.json["message"]
    as_parquet = predictor.test_client().post(
        f"/api/v1/projects/{project.project_id}/forecast",
        json={"future": future},
        headers={
            **internal_token_headers(predictor.config, "predictor", project.user_id),
            "Accept": "application/vnd.apache.parquet",
        },
    )
    assert as_parquet.status_code == 200 and as_parquet.mimetype == "application/vnd.apache.parquet"
    table = pd.read_parquet(io.BytesIO(as_parquet.data))
    assert len(table) == 18 and np.allclose(table["forecast"], [row["forecast"] for row in rows])
    regression = predictor.test_client().post(
        f"/api/v1/projects/{project.project_id}/predict",
        json={"store": "S0", "promo": 1},
        headers=internal_token_headers(predictor.config, "predictor", project.user_id),
    )
    assert regression.status_code == 409 and "/forecast" in regression.json["message"]


def actuals(app, project, records: list[dict[str, Any]]):
    return app.test_client().post(
        f"/api/v1/projects/{project.project_id}/actuals",
        json={"records": records},
        headers=internal_token_headers(app.config, "predictor", project.user_id),
    )


def test_actuals_of_a_forecast_model_are_scored_against_what_it_forecast(trainer_app, predictor, make_project):
    frame = monthly_store_sales(months=66, promotions=True)
    cutoff = frame["month"].sort_values().unique()[59]
    project = make_project(frame[frame["month"] <= cutoff])
    answer = train(trainer_app, project, series_columns=["store"], known_future=["promo"], horizon=6, **FAST)
    assert answer.status_code == 202, answer.json
    assert TrainingWorker(trainer_app, "forecaster").run_once() is True
    later = frame[frame["month"] > cutoff].assign(month=lambda f: f["month"].dt.strftime("%Y-%m-%d"))
    records = later.to_dict(orient="records")

    report = actuals(predictor, project, records)
    assert report.status_code == 201, report.json
    body = report.json
    assert body["rows"] == 18 and body["model_version"] == 1
    assert set(body["metrics"]) == {"MAE", "RMSE", "WAPE", "bias", "coverage_80", "coverage_95"}
    assert body["metrics"]["MAE"] < 0.1 * later["sales"].mean()  # the generated season and trend are forecastable
    assert body["validation"]["MAE"] is not None and body["validation"]["coverage_80"] is not None
    assert [entry["feature"] for entry in body["drift"]] == ["promo"]
    assert body["recommendation"]["retrain"] is False, body["recommendation"]

    doubled = actuals(predictor, project, [{**row, "sales": 2 * row["sales"]} for row in records])
    assert doubled.status_code == 201
    assert doubled.json["metrics"]["coverage_95"] < 0.5
    advice = doubled.json["recommendation"]
    assert advice["retrain"] is True and "validation" in advice["reason"]

    too_late = actuals(predictor, project, [{**records[0], "month": "2030-01-01"}])
    assert too_late.status_code == 422 and "6 MS periods after" in too_late.json["message"]
    gap = actuals(predictor, project, [row for row in records if row["month"] != records[0]["month"]])
    assert gap.status_code == 422 and "promo" in gap.json["message"]
    unknown = actuals(predictor, project, [{**records[0], "store": "S9"}])
    assert unknown.status_code == 422 and "S9" in unknown.json["message"]
    no_target = actuals(predictor, project, [{k: v for k, v in records[0].items() if k != "sales"}])
    assert no_target.status_code == 422 and "sales" in no_target.json["message"]


def test_explained_forecasts_add_up_and_name_the_promotion_and_the_season(trainer_app, app_config, make_project):
    frame = monthly_store_sales(months=60, promotions=True)
    project = make_project(frame)
    body = {"series_columns": ["store"], "known_future": ["promo"], "horizon": 6}
    answer = train(trainer_app, project, **body, include=["ridge"], backtest_windows=2)  # a model that reads promo
    assert answer.status_code == 202, answer.json
    assert TrainingWorker(trainer_app, "forecaster").run_once() is True
    assert get(trainer_app, project, "models/1", "trainer").json["algorithm"] == "ridge"
    predictor = create_predictor({**app_config, "PREDICT_SERVING_VERSION_TTL_S": 0.0, "FORECAST_EXPLAIN_MAX_ROWS": 6})
    dates = pd.date_range(frame["month"].max(), periods=7, freq="MS")[1:]
    promos = [0, 0, 1, 0, 0, 0]
    future = [
        {"store": "S1", "month": date.date().isoformat(), "promo": promo}
        for date, promo in zip(dates, promos, strict=True)
    ]
    explained = forecast(predictor, project, {"series": [{"store": "S1"}], "future": future}, query_string="explain=1")
    assert explained.status_code == 200, explained.json
    rows = explained.json["forecasts"]
    assert [row["month"] for row in rows] == [date.date().isoformat() for date in dates]
    for row, promo in zip(rows, promos, strict=True):
        explanation = row["explanation"]
        effects = {entry["feature"]: entry for entry in explanation["contributions"]}
        assert set(effects) == {"promo", "season", "trend and recent change"}
        total = explanation["baseline"] + sum(entry["effect"] for entry in explanation["contributions"])
        assert total == pytest.approx(row["forecast"], rel=1e-6)
        assert effects["promo"]["value"] == promo
        same_month_last_year = (pd.Timestamp(row["month"]) - pd.DateOffset(months=12)).date().isoformat()
        assert effects["season"]["value"] == same_month_last_year
        assert "store=S1" in explanation["summary"] and row["month"] in explanation["summary"]
    promo_effects = [next(e for e in row["explanation"]["contributions"] if e["feature"] == "promo") for row in rows]
    # Before the promotion, every value supplied so far is the typical one (no promotion): no effect. In its month,
    # the generating rule adds 80 units; after it, a lag-reading model may carry some of it over.
    assert [abs(entry["effect"]) < 1e-6 for entry in promo_effects[:2]] == [True, True]
    assert promo_effects[2]["effect"] > 40, promo_effects
    january = next(entry for entry in rows[0]["explanation"]["contributions"] if entry["feature"] == "season")
    assert rows[0]["month"].endswith("-01-01") and january["effect"] < 0  # the generated season's trough

    plain = forecast(predictor, project, {"series": [{"store": "S1"}], "future": future})
    assert [row["forecast"] for row in plain.json["forecasts"]] == [row["forecast"] for row in rows]
    assert "explanation" not in plain.json["forecasts"][0]
    everything = [{**row, "store": store} for store in ("S0", "S1", "S2") for row in future]
    too_many = forecast(predictor, project, {"future": everything}, query_string="explain=1")
    assert too_many.status_code == 422 and "at most 6" in too_many.json["errors"]["explain"][0]
    as_parquet = forecast(
        predictor,
        project,
        {"series": [{"store": "S1"}], "future": future},
        accept=PARQUET,
        query_string="explain=1",
    )
    assert as_parquet.status_code == 422 and "explain" in as_parquet.json["errors"]
    dispose_engines(predictor)
