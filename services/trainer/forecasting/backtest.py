"""The rolling-origin backtest: the windows' points (actuals and scales), and every candidate's forecasts of them.

Each candidate is fitted again at every window's origin, on the data up to it, and forecasts the horizon after it.
(Fitting once at the earliest origin and applying those parameters to the later windows was tried: it is cheaper,
but the earliest origin has the least history, where AutoETS, for one, picks a model without the season; the
backtest then ranked ETS below seasonal naive on a plainly seasonal series that ETS forecasts five times better.)
The exception is AutoARIMA (``FITTED_ONCE``), ten times dearer than the others: it is fitted once, at the earliest
origin, and those parameters are applied to each later window's data (statsforecast's ``forward``), which is also
how it serves, so its backtest measures what serves.

No window sees a value after its origin: the models only ever receive the frame cut at the origin (known-future
columns excepted, at their own dates).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from shared.forecasting.forecasters import (
    FORECAST,
    GlobalRegressionForecaster,
    fit_one,
    forward,
    future_dates,
    series_arrays,
)
from shared.forecasting.intervals import interval_scales
from shared.forecasting.metrics import score, series_scales
from shared.forecasting.panel import DS, ID, Panel, Y
from shared.forecasting.windows import BacktestWindow, plan_windows

FITTED_ONCE = frozenset({"arima"})


@dataclass
class Backtest:
    windows: list[BacktestWindow]  # earliest first
    origins: list[pd.Timestamp]  # the last date each window trains on
    points: pd.DataFrame  # window, origin, unique_id, ds, step, y, scale, interval_scale: the scored points
    horizon: int
    series_count: int

    def values(self, forecasts: np.ndarray) -> np.ndarray:
        """A candidate's ``[window, series, step]`` forecasts at the scored points, in ``points`` order."""
        p = self.points
        return forecasts[p["window"].to_numpy(), p[ID].to_numpy(), p["step"].to_numpy() - 1]

    def cut(self, frame: pd.DataFrame, window: int) -> pd.DataFrame:
        """The data a window may see: every row up to its origin."""
        return frame[frame[DS] <= self.origins[window]]


def plan_backtest(panel: Panel) -> Backtest:
    windows = plan_windows(int(panel.lengths.min()), panel.horizon, panel.backtest_windows, panel.season_length)
    offset = panel.frequency.offset
    origins = [panel.last_date - offset * w.periods_after_origin for w in windows]
    frame = panel.frame
    pieces = []
    for index, (window, origin) in enumerate(zip(windows, origins, strict=True)):
        history = frame[frame[DS] <= origin]
        dates = future_dates(history, panel.frequency.alias, panel.horizon)
        dates = dates[dates["step"] <= window.scored_steps]
        scales = series_scales(history, panel.season_length)
        widths = interval_scales(history, panel.season_length)
        dates = dates.merge(frame[[ID, DS, Y]], on=[ID, DS], how="left")
        dates["scale"] = scales.loc[dates[ID]].to_numpy()
        dates["interval_scale"] = widths.loc[dates[ID]].to_numpy()
        dates.insert(0, "origin", origin)
        dates.insert(0, "window", index)
        pieces.append(dates)
    points = pd.concat(pieces, ignore_index=True)
    return Backtest(windows, origins, points, panel.horizon, len(panel.series))


def backtest_series_chunk(
    model_id: str, season_length: int, series: Sequence[tuple[Any, np.ndarray]], backs: Sequence[int], horizon: int
) -> tuple[dict[Any, np.ndarray], dict[Any, Any], int, float]:
    """For each ``(unique_id, y)`` and window: fit on the data up to the origin (once, at the earliest, for
    ``FITTED_ONCE`` models), forecast the horizon. Returns the forecasts (``[window, step]`` per series), the last
    fits, how many fits fell back to seasonal naive, and the seconds spent fitting."""
    forecasts: dict[Any, np.ndarray] = {}
    last_fits: dict[Any, Any] = {}
    fallbacks = 0
    fit_seconds = 0.0
    for uid, y in series:
        rows = []
        model = None
        for back in backs:
            if model is None or model_id not in FITTED_ONCE:
                started = time.perf_counter()
                model, fell_back = fit_one(model_id, season_length, y[: len(y) - back])
                fit_seconds += time.perf_counter() - started
                fallbacks += fell_back
            rows.append(forward(model, y[: len(y) - back], horizon))
        last_fits[uid] = model
        forecasts[uid] = np.vstack(rows)
    return forecasts, last_fits, fallbacks, fit_seconds


@dataclass
class CandidateBacktest:
    model_id: str
    forecasts: np.ndarray  # [window, series, step]
    fit_seconds: float
    fitted: Any = None  # statistical candidates: the last fits (latest origin; earliest if fitted once), by series
    fallbacks: int = 0
    note: str | None = None


def backtest_statistical(model_id: str, panel: Panel, backtest: Backtest, runner: Any) -> CandidateBacktest:
    series = series_arrays(panel.frame)
    chunks = max(1, min(runner.chunks, len(series)))
    parts = [series[i::chunks] for i in range(chunks)]
    backs = [w.periods_after_origin for w in backtest.windows]
    started = time.perf_counter()
    results = runner.map(
        backtest_series_chunk, [(model_id, panel.season_length, part, backs, panel.horizon) for part in parts]
    )
    forecasts = np.empty((len(backs), backtest.series_count, panel.horizon))
    fitted: dict[Any, Any] = {}
    fallbacks = 0
    for part_forecasts, part_fitted, part_fallbacks, _ in results:
        for uid, values in part_forecasts.items():
            forecasts[:, uid, :] = values
        fitted.update(part_fitted)
        fallbacks += part_fallbacks
    note = f"fell back to seasonal naive on {fallbacks} backtest fits where it failed" if fallbacks else None
    return CandidateBacktest(
        model_id, forecasts, time.perf_counter() - started, dict(sorted(fitted.items())), fallbacks, note
    )


def backtest_global(forecaster: GlobalRegressionForecaster, panel: Panel, backtest: Backtest) -> CandidateBacktest:
    started = time.perf_counter()
    known = known_future_frame(panel) if forecaster.known_future else None
    forecasts = np.empty((len(backtest.windows), backtest.series_count, panel.horizon))
    for index in range(len(backtest.windows)):
        history = backtest.cut(panel.frame, index)
        forecaster.fit(history)
        answer = forecaster.forecast(history, panel.horizon, known)
        forecasts[index, answer[ID].to_numpy(), answer["step"].to_numpy() - 1] = answer[FORECAST].to_numpy()
    return CandidateBacktest(forecaster.id, forecasts, time.perf_counter() - started)


def known_future_frame(panel: Panel) -> pd.DataFrame:
    """The known-future values at every date a backtest window forecasts: recorded ones, and past the data's end the
    last recorded value (those steps are not scored; the model still needs inputs for them)."""
    frame = panel.frame[[ID, DS, *panel.known_future]]
    tail = future_dates(frame, panel.frequency.alias, panel.horizon).drop(columns="step")
    last = frame.groupby(ID, sort=True)[panel.known_future].last()
    tail = tail.join(last, on=ID)
    return pd.concat([frame, tail], ignore_index=True)


def score_forecasts(backtest: Backtest, values: np.ndarray) -> dict[str, float | None]:
    points = backtest.points.assign(forecast=values)
    return score(points, "forecast", group_cols=("window", ID))
