"""The forecasting engine on generated data with known patterns: what it forecasts, that no backtest window sees its
future, that lags stay within their series, the served model's requests and errors, pickling, and Dask."""

from __future__ import annotations

import io
import multiprocessing
from concurrent.futures import ProcessPoolExecutor

import joblib
import numpy as np
import pandas as pd
import pytest

from services.trainer.forecasting import candidate_problems, train_forecaster
from services.trainer.forecasting.backtest import backtest_global, backtest_statistical, plan_backtest
from services.trainer.forecasting.candidates import regressor
from services.trainer.forecasting.runner import SeriesRunner
from shared.forecasting.forecasters import GlobalRegressionForecaster
from shared.forecasting.model import (
    HorizonTooLongError,
    InvalidRowsError,
    MissingFutureValuesError,
    UnknownSeriesError,
)
from shared.forecasting.panel import ForecastDataError, ForecastSpec, prepare_panel
from shared.model_artifacts import dump_pipeline

MONTHS = 72
AMPLITUDE = 30.0
STATISTICAL = ["naive", "snaive", "mean", "ets", "theta"]


def true_sales(store: int, t: np.ndarray) -> np.ndarray:
    """Each store's level, a trend and a yearly season peaking in July (t = 6 is July)."""
    level = 200.0 * (store + 1)
    return level + 2.0 * t + AMPLITUDE * (store + 1) * np.cos(2 * np.pi * (t - 6) / 12)


def monthly_sales(stores: int = 3, months: int = MONTHS, noise: float = 4.0, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    dates = pd.date_range("2015-01-01", periods=months, freq="MS")
    t = np.arange(months)
    frames = [
        pd.DataFrame({"store": f"S{s}", "month": dates, "sales": true_sales(s, t) + rng.normal(0, noise, months)})
        for s in range(stores)
    ]
    return pd.concat(frames, ignore_index=True)


def promoted_sales(stores: int = 3, weeks: int = 150, seed: int = 0) -> pd.DataFrame:
    """Weekly sales that rise by half on promotion weeks."""
    rng = np.random.default_rng(seed)
    dates = pd.date_range("2020-01-05", periods=weeks, freq="W-SUN")
    frames = []
    for s in range(stores):
        promo = (rng.random(weeks) < 0.25).astype(int)
        base = 100.0 * (s + 1) + rng.normal(0, 3 * (s + 1), weeks)
        frames.append(pd.DataFrame({"store": s, "week": dates, "promo": promo, "sales": base * (1 + 0.5 * promo)}))
    return pd.concat(frames, ignore_index=True)


@pytest.fixture(scope="module")
def seasonal_training():
    frame = monthly_sales()
    progress: list[tuple[str, float]] = []
    result = train_forecaster(
        frame,
        ForecastSpec("sales", series_columns=("store",), horizon=12),
        include=[*STATISTICAL, "ensemble"],
        report=lambda stage, fraction: progress.append((stage, fraction)),
    )
    return frame, result, progress


@pytest.fixture(scope="module")
def promoted_training():
    frame = promoted_sales()
    spec = ForecastSpec("sales", series_columns=("store",), horizon=8, known_future=("promo",))
    return frame, train_forecaster(frame, spec, include=["snaive", "naive", "ridge"])


def future_promos(frame: pd.DataFrame, promo: int, weeks: int = 8) -> pd.DataFrame:
    last = frame["week"].max()
    dates = pd.date_range(last + pd.Timedelta(days=7), periods=weeks, freq="W-SUN")
    return pd.DataFrame([{"store": s, "week": d, "promo": promo} for s in frame["store"].unique() for d in dates])


# --- what it forecasts ----------------------------------------------------------------------------------------------


def test_the_forecast_follows_the_season_and_the_trend(seasonal_training):
    frame, result, _ = seasonal_training
    assert result.algorithm not in {"snaive", "naive", "mean"}
    forecast = result.model.forecast()
    t = np.arange(MONTHS, MONTHS + 12)
    for s in range(3):
        rows = forecast[forecast["store"] == f"S{s}"]
        truth = true_sales(s, t)
        assert rows["month"].iloc[0] == pd.Timestamp("2021-01-01")
        assert np.abs(rows["forecast"].to_numpy() - truth).mean() < 0.25 * AMPLITUDE * (s + 1)
        assert rows["month"].iloc[int(np.argmax(rows["forecast"].to_numpy()))].month in (6, 7, 8)
        last_year = frame[frame["store"] == f"S{s}"]["sales"].tail(12).mean()
        assert rows["forecast"].mean() > last_year


def test_intervals_contain_the_forecast_and_widen_with_the_horizon(seasonal_training):
    _, result, _ = seasonal_training
    forecast = result.model.forecast()
    assert (forecast["lower_95"] <= forecast["lower_80"]).all() and (forecast["lower_80"] <= forecast["forecast"]).all()
    assert (forecast["forecast"] <= forecast["upper_80"]).all() and (forecast["upper_80"] <= forecast["upper_95"]).all()
    for _, rows in forecast.groupby("store"):
        width = (rows["upper_95"] - rows["lower_95"]).to_numpy()
        assert all(np.diff(width) >= -1e-9) and width[-1] > width[0]
    coverage = result.interval_coverage
    assert 0 < coverage["80"] <= coverage["95"] <= 1


def test_the_leaderboard_has_seasonal_naive_and_progress_moves_once_per_candidate(seasonal_training):
    _, result, progress = seasonal_training
    models = [row["model"] for row in result.leaderboard]
    assert "snaive" in models and set(models) == {*STATISTICAL, "ensemble"}
    assert models[0] == result.algorithm
    assert {"model", "name", "MASE", "MAE", "RMSE", "WAPE", "SMAPE", "fit_seconds"} <= set(result.leaderboard[0])
    comparing = [fraction for stage, fraction in progress if stage == "comparing models"]
    assert len(comparing) >= len(STATISTICAL) + 1
    assert comparing == sorted(comparing)
    assert result.metrics["backtest"]["MASE"] == result.leaderboard[0]["MASE"]


def test_the_model_describes_itself_for_the_api(seasonal_training):
    _, result, _ = seasonal_training
    block = result.forecast
    assert block == {
        "date_column": "month",
        "series_columns": ["store"],
        "frequency": "MS",
        "horizon": 12,
        "known_future": [],
        "last_dates": [{"store": f"S{s}", "month": "2020-12-01"} for s in range(3)],
        "series_count": 3,
        "interval_coverage": result.interval_coverage,
    }
    windows = result.backtest_windows
    assert len(windows) == 3 and windows[0]["origin"] < windows[1]["origin"] < windows[2]["origin"]
    assert list(windows[0]["rows"].columns) == ["store", "month", "actual", "forecast"]
    assert (windows[0]["rows"]["month"] > windows[0]["origin"]).all()


def test_a_known_future_promotion_raises_the_forecast(promoted_training):
    frame, result = promoted_training
    assert result.algorithm == "ridge" and result.model.known_future == ["promo"]
    with_promo = result.model.forecast(future=future_promos(frame, 1))
    without = result.model.forecast(future=future_promos(frame, 0))
    assert (with_promo["forecast"].to_numpy() > 1.3 * without["forecast"].to_numpy()).all()


def test_a_candidate_that_loses_to_seasonal_naive_never_serves():
    months = pd.date_range("2012-01-01", periods=60, freq="MS")
    pattern = np.array([5.0, 7, 9, 14, 20, 26, 30, 26, 19, 12, 8, 6])
    frame = pd.DataFrame({"month": months, "sales": np.tile(pattern, 5)})
    result = train_forecaster(frame, ForecastSpec("sales", horizon=6), include=["naive", "snaive", "mean", "ensemble"])
    assert result.algorithm == "snaive"
    reasons = {row["model"]: row["reason"] for row in result.leaderboard}
    assert reasons["snaive"].startswith("serves")
    assert "loses to seasonal naive" in reasons["naive"] and "loses to seasonal naive" in reasons["mean"]


# --- time is never leaked ---------------------------------------------------------------------------------------------


def test_no_backtest_window_sees_data_after_its_origin():
    frame = promoted_sales()
    panel = prepare_panel(frame, ForecastSpec("sales", series_columns=("store",), horizon=8, known_future=("promo",)))
    backtest = plan_backtest(panel)

    def forecasts(panel):
        with SeriesRunner() as runner:
            theta = backtest_statistical("theta", panel, backtest, runner).forecasts
        ridge = GlobalRegressionForecaster("ridge", "Ridge", regressor("ridge", 0, 1), "W-SUN", "W", ["promo"], 20)
        return theta, backtest_global(ridge, panel, backtest).forecasts

    theta_before, ridge_before = forecasts(panel)
    # Plant a signal that exists only after the earliest origin: every later sale is a thousand times larger.
    planted = panel.frame.copy()
    later = planted["ds"] > backtest.origins[0]
    planted.loc[later, "y"] = planted.loc[later, "y"] * 1000 + 12345
    panel.frame = planted
    theta_after, ridge_after = forecasts(panel)
    np.testing.assert_array_equal(theta_before[0], theta_after[0])
    np.testing.assert_array_equal(ridge_before[0], ridge_after[0])
    assert not np.allclose(theta_before[1], theta_after[1])  # the later windows do see it: it is before their origin


def test_lags_never_cross_from_one_series_into_another():
    days = pd.date_range("2023-01-01", periods=120, freq="D")
    rng = np.random.default_rng(3)
    frame = pd.concat(
        [
            pd.DataFrame({"item": "small", "day": days, "qty": 10 + rng.normal(0, 1, 120)}),
            pd.DataFrame({"item": "large", "day": days, "qty": 10_000 + rng.normal(0, 100, 120)}),
        ]
    )
    panel = prepare_panel(frame, ForecastSpec("qty", series_columns=("item",), horizon=14))
    forecaster = GlobalRegressionForecaster("ridge", "Ridge", regressor("ridge", 0, 1), "D", "D")
    features = forecaster.make_pipeline().preprocess(panel.frame, static_features=[], dropna=False)
    for _, rows in features.groupby("unique_id"):
        assert rows["lag1"].isna().iloc[0]  # the first day of a series has no yesterday, not another series' last day
        np.testing.assert_allclose(rows["lag1"].to_numpy()[1:], rows["y"].to_numpy()[:-1])
    forecaster.fit(panel.frame)
    forecast = forecaster.forecast(panel.frame, 14)
    small = panel.series.index[panel.series["item"] == "small"][0]
    assert forecast[forecast["unique_id"] == small]["forecast"].between(5, 15).all()


# --- the served model's requests and errors ----------------------------------------------------------------------


def test_some_series_and_a_shorter_horizon(seasonal_training):
    _, result, _ = seasonal_training
    forecast = result.model.forecast(horizon=3, series=[{"store": "S1"}])
    assert forecast["store"].tolist() == ["S1"] * 3
    everything = result.model.forecast()
    np.testing.assert_allclose(forecast["forecast"], everything[everything["store"] == "S1"]["forecast"].head(3))


def test_a_series_unknown_to_the_model(seasonal_training):
    _, result, _ = seasonal_training
    with pytest.raises(UnknownSeriesError, match="store=S9") as raised:
        result.model.forecast(series=[{"store": "S1"}, {"store": "S9"}])
    assert "3 series" in str(raised.value)
    with pytest.raises(InvalidRowsError, match="lacks store"):
        result.model.forecast(series=[{"shop": "S1"}])


def test_a_horizon_longer_than_the_model_was_trained_for(seasonal_training):
    _, result, _ = seasonal_training
    with pytest.raises(HorizonTooLongError, match="12 periods"):
        result.model.forecast(horizon=13)


def test_a_missing_known_future_value_names_the_series_and_date(promoted_training):
    frame, result = promoted_training
    future = future_promos(frame, 1)
    gap = future.iloc[5]
    with pytest.raises(MissingFutureValuesError, match=f"store={gap['store']} on {gap['week'].date()}"):
        result.model.forecast(future=future.drop(index=5))
    with pytest.raises(MissingFutureValuesError, match="24 forecast date"):
        result.model.forecast()


def test_newer_history_moves_the_forecast_start_without_retraining(seasonal_training):
    frame, result, _ = seasonal_training
    model = result.model
    fitted_before = [dict(member.fitted) for member in model.members]
    newer = pd.DataFrame(
        {"store": "S0", "month": pd.date_range("2021-01-01", periods=3, freq="MS"), "sales": [900.0, 950.0, 1000.0]}
    )
    moved = model.forecast(history=newer)
    s0 = moved[moved["store"] == "S0"]
    assert s0["month"].iloc[0] == pd.Timestamp("2021-04-01") and len(s0) == 12
    before = model.forecast()
    assert s0["forecast"].mean() > before[before["store"] == "S0"]["forecast"].mean() + 50
    pd.testing.assert_frame_equal(
        moved[moved["store"] == "S1"].reset_index(drop=True), before[before["store"] == "S1"].reset_index(drop=True)
    )
    assert [dict(member.fitted) for member in model.members] == fitted_before
    assert len(model.history) == len(frame)
    with pytest.raises(InvalidRowsError, match="newer than the training data"):
        model.forecast(history=newer.assign(month=pd.Timestamp("2020-06-01")).head(1))


def test_the_model_round_trips_through_its_artifact(promoted_training):
    frame, result = promoted_training
    loaded = joblib.load(io.BytesIO(dump_pipeline(result.model)))
    future = future_promos(frame, 1)
    pd.testing.assert_frame_equal(loaded.forecast(future=future), result.model.forecast(future=future))


# --- requests that must be a 422 before training ------------------------------------------------------------------


def test_include_and_exclude_are_checked():
    assert "unknown forecasting model id" in candidate_problems(["prophet"], None)["include"][0]
    assert "cannot be excluded" in candidate_problems(None, ["snaive"])["exclude"][0]
    assert candidate_problems(["snaive"], None)["include"] == [
        "`include` and `exclude` leave no model to compare besides seasonal naive"
    ]
    with pytest.raises(ForecastDataError) as raised:
        train_forecaster(monthly_sales(), ForecastSpec("sales", series_columns=("store",)), include=["prophet"])
    assert set(raised.value.errors) == {"include"}


# --- PyCaret chooses the regressor; Dask gives the same forecasts ---------------------------------------------------


def _train_with_regressor_choice() -> tuple[str, list[dict], list[dict]]:
    frame = promoted_sales(stores=4)
    spec = ForecastSpec("sales", series_columns=("store",), horizon=8, known_future=("promo",))
    result = train_forecaster(frame, spec, include=["snaive", "ridge", "lightgbm"])
    return result.algorithm, result.regressor_choice, result.leaderboard


@pytest.mark.slow
def test_pycaret_compare_models_chooses_the_regressor():
    # PyCaret redirects stdout at the file-descriptor level: it runs in its own process, as in the trainer.
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        algorithm, choice, leaderboard = pool.submit(_train_with_regressor_choice).result(timeout=300)
    assert {row["model"] for row in choice} == {"ridge", "lightgbm"}
    chosen = choice[0]["model"]
    row = next(r for r in leaderboard if r["model"] == chosen)
    assert "chosen by PyCaret compare_models" in row["reason"]
    assert row["MASE"] is not None
    assert algorithm in {chosen, "snaive"}


@pytest.mark.slow
def test_the_dask_path_gives_the_same_forecasts_as_the_local_one():
    from dask.distributed import Client, LocalCluster, get_task_stream

    frame = monthly_sales(stores=4)
    spec = ForecastSpec("sales", series_columns=("store",), horizon=6)
    include = ["snaive", "naive", "ets", "theta", "ensemble"]
    local = train_forecaster(frame, spec, include=include)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        with Client(cluster) as client, get_task_stream(client) as stream:
            distributed = train_forecaster(frame, spec, include=include, dask_client=client)
    ran = {task["key"].split("-")[0] for task in stream.data}
    assert {"backtest_series_chunk", "fit_series_models"} <= ran  # the fits ran on the cluster's workers
    assert distributed.algorithm == local.algorithm
    pd.testing.assert_frame_equal(distributed.model.forecast(), local.model.forecast())
    for row, distributed_row in zip(local.leaderboard, distributed.leaderboard, strict=True):
        assert distributed_row["model"] == row["model"] and distributed_row["reason"] == row["reason"]
        for metric in ("MASE", "MAE", "RMSE", "WAPE", "SMAPE"):
            assert distributed_row[metric] == pytest.approx(row[metric], rel=1e-9)


def test_newer_history_of_a_model_with_known_future_columns(promoted_training):
    frame, result = promoted_training
    last = frame["week"].max()
    newer_weeks = pd.date_range(last + pd.Timedelta(days=7), periods=2, freq="W-SUN")
    newer = pd.DataFrame({"store": 0, "week": newer_weeks, "promo": [1, 0], "sales": [160.0, 100.0]})
    future = future_promos(frame.assign(week=frame["week"] + pd.Timedelta(days=14)), 1)
    moved = result.model.forecast(history=newer, future=pd.concat([future, future_promos(frame, 1)]))
    assert moved[moved["store"] == 0]["week"].iloc[0] == newer_weeks[-1] + pd.Timedelta(days=7)
    assert moved[moved["store"] == 1]["week"].iloc[0] == last + pd.Timedelta(days=7)
    with pytest.raises(InvalidRowsError, match="lack the column"):
        result.model.forecast(history=newer.drop(columns="promo"), future=future)
