"""The HTTP status of each of the predictor's own domain errors (the shared ones are in shared/errors.py)."""

from __future__ import annotations

from services.predictor.actuals import ActualsReportNotFound
from services.predictor.batching import BatchUnavailable
from services.predictor.explanations import CannotExplain
from services.predictor.forecast_explanations import CannotExplainForecast
from services.predictor.input_contract import InputRejected
from services.predictor.model_cache import (
    ModelUnusable,
    NoServingModel,
    NotAForecastModel,
    NotARegressionModel,
    PredictionFailed,
)
from services.predictor.scoring import InputTooLarge
from shared.domain_errors import DomainError
from shared.forecasting.model import ForecastRequestError

ERROR_STATUSES: dict[type[DomainError], int] = {
    InputRejected: 422,
    InputTooLarge: 413,
    PredictionFailed: 422,
    NoServingModel: 409,
    ModelUnusable: 409,
    BatchUnavailable: 503,
    NotARegressionModel: 409,
    NotAForecastModel: 409,
    ForecastRequestError: 422,
    CannotExplain: 409,
    CannotExplainForecast: 409,
    ActualsReportNotFound: 404,
}
