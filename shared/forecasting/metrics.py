"""Forecast accuracy: MASE, MAE, RMSE, WAPE, sMAPE (and MAPE), over the points of a long frame.

- **MASE** is the mean, over series (and backtest windows), of each one's MAE divided by its scale: the in-sample
  MAE of the seasonal-naive forecast on the history the forecast was made from. When that is 0 (a series that
  repeats itself exactly, or one with a single season) the one-step naive MAE is the scale; when that is 0 too (a
  constant series) the series has no MASE and is left out of the mean (its errors still count in MAE, RMSE and
  WAPE). 1.0 means "as good as seasonal naive was in-sample".
- **WAPE** is the sum of absolute errors over the sum of absolute actuals (0.25 = 25%).
- **sMAPE** is the mean of ``2|e| / (|y| + |f|)`` (0 to 2; a point where both are 0 counts as 0).
- **MAPE** is the mean of ``|e| / |y|`` over the points where the actual is not 0.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

METRICS = ("MASE", "MAE", "RMSE", "WAPE", "SMAPE")


def mase_scale(y: np.ndarray, season_length: int) -> float:
    """The MASE denominator of one series' history (NaN when it has none)."""
    y = np.asarray(y, dtype=float)
    for lag in dict.fromkeys((season_length, 1)):
        if len(y) > lag:
            scale = float(np.mean(np.abs(y[lag:] - y[:-lag])))
            if scale > 0:
                return scale
    return math.nan


def series_scales(frame: pd.DataFrame, season_length: int, id_col: str = "unique_id", y_col: str = "y") -> pd.Series:
    """``mase_scale`` of every series in a long frame, indexed by series."""
    return frame.groupby(id_col, sort=True)[y_col].apply(lambda y: mase_scale(y.to_numpy(), season_length))


def score(points: pd.DataFrame, forecast_col: str = "forecast", group_cols: tuple[str, ...] = ("unique_id",)) -> dict:
    """Every metric over ``points`` (columns ``y``, the forecast, ``scale`` and the group columns; one MASE term per
    group, e.g. per series and window). Values are None when undefined."""
    actual = points["y"].to_numpy(dtype=float)
    forecast = points[forecast_col].to_numpy(dtype=float)
    error = forecast - actual
    absolute = np.abs(error)
    total = float(np.sum(np.abs(actual)))
    denominator = np.abs(actual) + np.abs(forecast)
    smape_terms = np.divide(2 * absolute, denominator, out=np.zeros_like(absolute), where=denominator > 0)
    per_group = (
        points.assign(_abs=absolute)
        .groupby(list(group_cols), sort=False)
        .agg(mae=("_abs", "mean"), scale=("scale", "first"))
    )
    usable = per_group[per_group["scale"].notna() & (per_group["scale"] > 0)]
    return {
        "MASE": _number(np.mean(usable["mae"] / usable["scale"])) if len(usable) else None,
        "MAE": _number(np.mean(absolute)) if len(absolute) else None,
        "RMSE": _number(math.sqrt(np.mean(error**2))) if len(error) else None,
        "WAPE": _number(np.sum(absolute) / total) if total > 0 else None,
        "SMAPE": _number(np.mean(smape_terms)) if len(smape_terms) else None,
    }


def mean_absolute_percentage_error(actual: np.ndarray, forecast: np.ndarray) -> float | None:
    actual = np.asarray(actual, dtype=float)
    forecast = np.asarray(forecast, dtype=float)
    nonzero = actual != 0
    if not nonzero.any():
        return None
    return float(np.mean(np.abs(forecast[nonzero] - actual[nonzero]) / np.abs(actual[nonzero])))


def _number(value: float) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None
