"""Domain exceptions of the projects service turned into the one error shape."""

from __future__ import annotations

import logging

from flask import Flask, Response

from services.projects.accounts import AccountLocked, InvalidCredentials, UsernameTaken, UserNotFound
from services.projects.dataset_store import DatasetNotFound, ProjectHasNoDataset
from services.projects.project_store import ProjectNotFound
from shared.errors import error_response
from shared.storage import ObjectNotFound, ObjectStoreUnavailable

log = logging.getLogger(__name__)

STATUS_BY_EXCEPTION: dict[type[Exception], int] = {
    ProjectNotFound: 404,
    DatasetNotFound: 404,
    ProjectHasNoDataset: 409,
    UsernameTaken: 409,
    InvalidCredentials: 401,
    UserNotFound: 401,
}


def _domain_error(exc: Exception) -> Response:
    return error_response(STATUS_BY_EXCEPTION[type(exc)], exc.message)


def _account_locked(exc: AccountLocked) -> Response:
    return error_response(429, exc.message, headers={"Retry-After": str(exc.retry_after_seconds)})


def _object_store_unavailable(exc: Exception) -> Response:
    log.error("object store unavailable: %s", exc)
    return error_response(503, "The object store is unavailable; nothing was changed. Retry shortly.")


def _dataset_object_missing(exc: ObjectNotFound) -> Response:
    log.error("dataset object missing from the object store: %s", exc)
    return error_response(503, "The dataset's file is unavailable in the object store.")


def register_domain_errors(app: Flask) -> None:
    for exception in STATUS_BY_EXCEPTION:
        app.register_error_handler(exception, _domain_error)
    app.register_error_handler(AccountLocked, _account_locked)
    app.register_error_handler(ObjectStoreUnavailable, _object_store_unavailable)
    app.register_error_handler(ObjectNotFound, _dataset_object_missing)
