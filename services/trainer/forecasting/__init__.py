"""The forecasting engine of the trainer: candidates, rolling-origin backtest, selection, intervals, final fit."""

from services.trainer.forecasting.candidates import FORECAST_MODEL_IDS, candidate_problems
from services.trainer.forecasting.training import (
    DEFAULT_TIME_BUDGET_S,
    SORT_METRICS,
    ForecastTrainingResult,
    train_forecaster,
)

__all__ = [
    "DEFAULT_TIME_BUDGET_S",
    "FORECAST_MODEL_IDS",
    "SORT_METRICS",
    "ForecastTrainingResult",
    "candidate_problems",
    "train_forecaster",
]
