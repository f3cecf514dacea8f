"""Forecasting through the gateway, as a user does it: upload monthly sales of three stores (a level each, a trend, a
yearly season), train with task forecast, read the model and its backtest, and ask for the next months."""

from __future__ import annotations

import time

import numpy as np
import pytest

from harness.data import monthly_store_sales, parquet_bytes
from shared.media_types import PARQUET

pytestmark = pytest.mark.e2e

TRAINING = {
    "task": "forecast",
    "series_columns": ["store"],
    "horizon": 12,
    "include": ["snaive", "naive", "theta", "ets"],
    "backtest_windows": 2,
}


def test_a_forecast_follows_the_season_and_the_trend_with_wider_intervals_further_out(api):
    auth = api.register_and_login()
    frame = monthly_store_sales(months=72, seed=4)
    project = api.post("/api/v1/projects", json={"name": "Stores", "target": "sales"}, headers=auth).json()
    base = f"/api/v1/projects/{project['id']}"
    uploaded = api.post(f"{base}/datasets", data=parquet_bytes(frame), headers={**auth, "Content-Type": PARQUET})
    assert uploaded.status_code == 201, uploaded.text
    run = api.post(f"{base}/train", json=TRAINING, headers=auth).json()
    deadline = time.monotonic() + 300
    while run["status"] in ("queued", "running"):
        assert time.monotonic() < deadline, run
        time.sleep(1)
        run = api.get(f"{base}/training-runs/{run['id']}", headers=auth).json()
    assert run["status"] == "succeeded", run["error"]
    served = next(row for row in run["leaderboard"] if row["reason"] and row["reason"].startswith("serves"))
    reference = next(row for row in run["leaderboard"] if row["model"] == "snaive")
    assert served["MASE"] <= reference["MASE"]

    model = api.get(f"{base}/models/{run['model_version']}", headers=auth).json()
    assert model["task"] == "forecast" and model["forecast"]["series_count"] == 3
    assert api.get(f"{base}/models/{model['version']}/backtest", headers=auth).json()["windows"]

    answer = api.post(f"{base}/forecast", json={}, headers=auth)
    assert answer.status_code == 200, answer.text
    rows = answer.json()["forecasts"]
    assert len(rows) == 3 * 12
    for store_index, store in enumerate(("S0", "S1", "S2")):
        ours = [row for row in rows if row["store"] == store]
        forecast = np.array([row["forecast"] for row in ours])
        months = [int(row["month"][5:7]) for row in ours]
        july, january = forecast[months.index(7)], forecast[months.index(1)]
        # The season: July peaks 2 × 30 × (store + 1) above January (cos at 0 and π), give or take the noise.
        assert july - january == pytest.approx(60 * (store_index + 1), rel=0.35)
        last_year = frame[frame["store"] == store].tail(12)["sales"].mean()
        assert forecast.mean() > last_year  # the trend goes on: next year's months above last year's
        widths = np.array([row["upper_95"] - row["lower_95"] for row in ours])
        assert widths[-1] >= widths[0]
    one_store = api.post(f"{base}/forecast", json={"series": [{"store": "S1"}], "horizon": 3}, headers=auth).json()
    assert [row["store"] for row in one_store["forecasts"]] == ["S1"] * 3
    assert api.post(f"{base}/predict", json={"store": "S1"}, headers=auth).status_code == 409
