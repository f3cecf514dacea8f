"""How far predictions are from what really happened, the same for the trainer's holdout and the actuals a user
sends later."""

from __future__ import annotations

import math

import numpy as np


def regression_scores(actual: np.ndarray, predicted: np.ndarray) -> dict[str, float | None]:
    """MAE, MSE, RMSE, R2, RMSLE, MAPE (as PyCaret reports them), plus WAPE and bias (mean of predicted − actual)."""
    actual = np.asarray(actual, dtype="float64")
    predicted = np.asarray(predicted, dtype="float64")
    errors = predicted - actual
    mse = float(np.mean(errors**2))
    variance = float(np.sum((actual - actual.mean()) ** 2))
    scores: dict[str, float | None] = {
        "MAE": float(np.mean(np.abs(errors))),
        "MSE": mse,
        "RMSE": math.sqrt(mse),
        "R2": 1 - float(np.sum(errors**2)) / variance if variance > 0 else None,
        "RMSLE": None,
        "MAPE": None,
        "WAPE": float(np.sum(np.abs(errors)) / np.sum(np.abs(actual))) if np.any(actual) else None,
        "bias": float(np.mean(errors)),
    }
    if (actual >= 0).all() and (predicted > -1).all():
        scores["RMSLE"] = math.sqrt(float(np.mean((np.log1p(np.maximum(predicted, 0)) - np.log1p(actual)) ** 2)))
    if (actual != 0).all():
        scores["MAPE"] = float(np.mean(np.abs(errors / actual)))
    return scores
