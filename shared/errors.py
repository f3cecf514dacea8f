"""The one JSON error shape of the public API, produced here for every service and the gateway.

``{"code": 422, "status": "Unprocessable Entity", "message": "...", "errors": {"field": ["..."]}}``

Domain code raises ``DomainError`` subclasses (``shared.domain_errors``) and knows nothing of HTTP. Each app's
factory gives ``register_error_handlers`` the statuses of its own domain errors (``shared.app``);
``SHARED_ERROR_STATUSES`` holds those of the errors in ``shared`` (missing objects, other services failing, the
object store down). A domain error whose class is in no map is a bug: 500, logged.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from flask import Flask, Response, current_app, jsonify
from marshmallow import Schema, fields
from sqlalchemy.exc import InterfaceError, OperationalError
from werkzeug.exceptions import HTTPException

from shared.domain_errors import (
    DatasetNotFound,
    DomainError,
    ModelVersionNotFound,
    ObjectStoreFailure,
    ProjectHasNoDataset,
    ProjectNotFound,
    TrainingRunNotFound,
    UpstreamBroken,
    UpstreamTimedOut,
    UpstreamUnavailable,
)

log = logging.getLogger(__name__)

ERROR_STATUSES_EXTENSION = "error_statuses"

DEFAULT_MESSAGES = {
    400: "The request body is not valid JSON or is malformed.",
    401: "Authentication required: send a valid access token as 'Authorization: Bearer <token>'.",
    404: "Not found.",
    405: "This method is not allowed on this route.",
    413: "The request body is too large.",
    415: "Unsupported content type.",
    429: "Too many requests; slow down and retry later.",
    500: "Internal server error. The error has been logged.",
    502: "An upstream service failed.",
    503: "A service this request depends on is unavailable; retry shortly.",
    504: "An upstream service did not answer in time.",
}

SHARED_ERROR_STATUSES: dict[type[DomainError], int] = {
    ProjectNotFound: 404,
    DatasetNotFound: 404,
    ModelVersionNotFound: 404,
    TrainingRunNotFound: 404,
    ProjectHasNoDataset: 409,
    UpstreamUnavailable: 503,
    UpstreamTimedOut: 504,
    UpstreamBroken: 502,
    ObjectStoreFailure: 503,
}


class ErrorSchema(Schema):
    """The body of every 4xx and 5xx answer (documentation only: ``error_body`` writes it)."""

    code = fields.Integer(required=True, metadata={"description": "the HTTP status code"})
    status = fields.String(required=True, metadata={"description": "the HTTP status phrase"})
    message = fields.String(required=True, metadata={"description": "what went wrong and what to do about it"})
    errors = fields.Dict(
        keys=fields.String(),
        values=fields.List(fields.String()),
        metadata={"description": "field (or column) → what is wrong with it"},
    )


def error_body(code: int, message: str | None = None, errors: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "code": code,
        "status": HTTPStatus(code).phrase,
        "message": message or DEFAULT_MESSAGES.get(code) or HTTPStatus(code).description,
    }
    if errors:
        body["errors"] = errors
    return body


def error_response(
    code: int, message: str | None = None, errors: dict[str, Any] | None = None, headers: dict | None = None
) -> Response:
    response = jsonify(error_body(code, message, errors))
    response.status_code = code
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def status_of(error: DomainError, statuses: Mapping[type[DomainError], int]) -> int | None:
    """The status of the error's class, or of its nearest base class that has one."""
    for cls in type(error).__mro__:
        if cls in statuses:
            return statuses[cls]
    return None


def flatten_validation_errors(errors: Any) -> dict[str, list[str]]:
    """webargs nests messages under the request location ({"json": {"name": [...]}}); clients want field → messages."""
    if not isinstance(errors, dict):
        return {"_request": [str(errors)]}
    flat: dict[str, list[str]] = {}
    for location, by_field in errors.items():
        if location in {"json", "query", "form", "files", "headers", "view_args"} and isinstance(by_field, dict):
            for field, messages in by_field.items():
                flat[str(field)] = _as_message_list(messages)
        else:
            flat[str(location)] = _as_message_list(by_field)
    return flat


def _as_message_list(messages: Any) -> list[str]:
    if isinstance(messages, list):
        return [str(m) for m in messages]
    if isinstance(messages, dict):
        return [f"{key}: {value}" for key, value in messages.items()]
    return [str(messages)]


def _handle_http_exception(exc: HTTPException) -> Response:
    code = exc.code or 500
    data = getattr(exc, "data", None) or {}
    message = data.get("message")
    errors = data.get("errors") or data.get("messages")
    if errors is not None:
        errors = flatten_validation_errors(errors)
        message = message or "The request is invalid; see 'errors' for what to fix."
    if message is None and exc.description and exc.description != type(exc).description:
        message = exc.description
    headers = {}
    if code == 405 and exc.get_response().headers.get("Allow"):
        headers["Allow"] = exc.get_response().headers["Allow"]
    return error_response(code, message, errors, headers)


def _handle_domain_error(exc: DomainError) -> Response:
    status = status_of(exc, current_app.extensions[ERROR_STATUSES_EXTENSION])
    if status is None:
        log.error("domain error %s has no HTTP status in this app's error map", type(exc).__name__, exc_info=exc)
        return error_response(500)
    if status >= 500:
        log.warning("%s: %s", type(exc).__name__, exc)
    return error_response(status, exc.message, exc.errors, exc.headers)


def _handle_unexpected(exc: Exception) -> Response:
    log.exception("unhandled exception", exc_info=exc)
    return error_response(500)


def _handle_database_unavailable(exc: Exception) -> Response:
    log.warning("database unavailable: %s", str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__)
    return error_response(503, "The database is unavailable; retry shortly.")


def register_error_handlers(app: Flask, statuses: Mapping[type[DomainError], int] | None = None) -> None:
    """Every HTTP error, every domain error (its status from ``SHARED_ERROR_STATUSES`` and ``statuses``) and every
    uncaught exception becomes the one JSON shape (never HTML, never a trace)."""
    if statuses is not None or ERROR_STATUSES_EXTENSION not in app.extensions:
        app.extensions[ERROR_STATUSES_EXTENSION] = {**SHARED_ERROR_STATUSES, **(statuses or {})}
    app.register_error_handler(HTTPException, _handle_http_exception)
    app.register_error_handler(DomainError, _handle_domain_error)
    # A database that is down or restarting (connection refused or lost) is a 503 the client may retry, not a bug.
    app.register_error_handler(OperationalError, _handle_database_unavailable)
    app.register_error_handler(InterfaceError, _handle_database_unavailable)
    app.register_error_handler(Exception, _handle_unexpected)
