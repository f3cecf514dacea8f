"""The HTTP status of each of the trainer's own domain errors (the shared ones are in shared/errors.py)."""

from __future__ import annotations

from services.trainer.forecast_input import UnforecastableRequest
from services.trainer.model_registry import NoBacktest, NoHoldoutPairs
from services.trainer.run_queue import IdempotencyKeyReused, RunAlreadyFinished, TooManyActiveRuns, UntrainableRequest
from shared.domain_errors import DomainError

ERROR_STATUSES: dict[type[DomainError], int] = {
    IdempotencyKeyReused: 422,
    RunAlreadyFinished: 409,
    UntrainableRequest: 422,
    TooManyActiveRuns: 429,
    NoHoldoutPairs: 409,
    NoBacktest: 409,
    UnforecastableRequest: 422,
}
