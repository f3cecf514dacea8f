"""Prediction intervals from backtest errors (split conformal, per horizon step), and their honest coverage.

The absolute backtest errors are divided by each series' scale (so that a big and a small series pool into one
distribution) and pooled per horizon step over series and windows. The interval at step ``k`` is the forecast plus
or minus the conformal quantile of step ``k``'s scaled errors, times the series' scale. A step with fewer than
``MIN_CALIBRATION_ERRORS`` errors (few series, or a step the backtest windows did not reach) borrows the nearest
steps' errors, rescaled by ``sqrt(k / j)`` (errors grow roughly with the square root of the lead time). Widths never
shrink as the horizon grows.

The coverage reported with a model is measured leave-one-window-out: each window's points are checked against
intervals calibrated on the other windows only, never on their own errors.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

LEVELS = (80, 95)
MIN_CALIBRATION_ERRORS = 40


def interval_scale(y: np.ndarray, season_length: int) -> float:
    """What a series' errors are divided by: the MASE scale, else its mean absolute value, else 1."""
    from shared.forecasting.metrics import mase_scale

    scale = mase_scale(y, season_length)
    if math.isfinite(scale) and scale > 0:
        return scale
    level = float(np.mean(np.abs(y))) if len(y) else 0.0
    return level if level > 0 else 1.0


def interval_scales(frame: pd.DataFrame, season_length: int) -> pd.Series:
    """``interval_scale`` of every series of a long frame, indexed by ``unique_id``."""
    return frame.groupby("unique_id", sort=True)["y"].apply(lambda y: interval_scale(y.to_numpy(), season_length))


def conformal_widths(steps: np.ndarray, scaled_errors: np.ndarray, horizon: int) -> dict[int, np.ndarray]:
    """Per level, the half-width of the interval at each step 1..horizon, in units of the series' scale."""
    by_step = {int(k): np.asarray(scaled_errors[steps == k], dtype=float) for k in np.unique(steps)}
    widths: dict[int, np.ndarray] = {}
    for level in LEVELS:
        values = np.array([_quantile(_pool(by_step, k), level / 100) for k in range(1, horizon + 1)])
        widths[level] = np.maximum.accumulate(values)
    return widths


def leave_one_window_out_coverage(
    windows: np.ndarray, steps: np.ndarray, scaled_errors: np.ndarray, horizon: int
) -> dict[int, float | None]:
    """Per level, the share of backtest points inside intervals calibrated on the other windows (None with one)."""
    distinct = np.unique(windows)
    if len(distinct) < 2:
        return dict.fromkeys(LEVELS)
    covered = dict.fromkeys(LEVELS, 0)
    for window in distinct:
        own = windows == window
        widths = conformal_widths(steps[~own], scaled_errors[~own], horizon)
        for level in LEVELS:
            covered[level] += int(np.sum(scaled_errors[own] <= widths[level][steps[own] - 1]))
    return {level: covered[level] / len(scaled_errors) for level in LEVELS}


def _pool(by_step: dict[int, np.ndarray], step: int) -> np.ndarray:
    """Step ``step``'s errors, topped up with the nearest steps' (rescaled) until there are enough."""
    pooled: list[np.ndarray] = []
    count = 0
    for other in sorted(by_step, key=lambda j: (abs(j - step), j)):
        pooled.append(by_step[other] * math.sqrt(step / other))
        count += len(by_step[other])
        if count >= MIN_CALIBRATION_ERRORS:
            break
    return np.concatenate(pooled) if pooled else np.array([])


def _quantile(errors: np.ndarray, coverage: float) -> float:
    """The split-conformal quantile: the ``ceil((n + 1) * coverage)``-th smallest error (the largest when n is
    small)."""
    errors = errors[np.isfinite(errors)]
    if len(errors) == 0:
        return math.inf
    ordered = np.sort(errors)
    rank = min(len(ordered), math.ceil((len(ordered) + 1) * coverage))
    return float(ordered[rank - 1])
