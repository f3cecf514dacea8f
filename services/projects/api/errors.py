"""The HTTP status of each of the projects service's own domain errors (the shared ones are in shared/errors.py)."""

from __future__ import annotations

from services.projects.accounts import InvalidCredentials, TooManyAttempts, UsernameTaken, UserNotFound
from services.projects.parquet_profile import DatasetRejected, UploadTooLarge
from shared.domain_errors import DomainError


class ProjectPartlyDeleted(DomainError):
    message = (
        "The object store is unavailable: the project's training runs and models were deleted, but the project and "
        "its datasets remain. Retry the DELETE to finish."
    )


ERROR_STATUSES: dict[type[DomainError], int] = {
    UsernameTaken: 409,
    InvalidCredentials: 401,
    UserNotFound: 401,
    TooManyAttempts: 429,
    DatasetRejected: 422,
    UploadTooLarge: 413,
    ProjectPartlyDeleted: 503,
}
