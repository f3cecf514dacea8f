"""The one JSON error shape of the public API, produced here for every service and the gateway.

``{"code": 422, "status": "Unprocessable Entity", "message": "...", "errors": {"field": ["..."]}}``
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from flask import Flask, Response, jsonify
from sqlalchemy.exc import InterfaceError, OperationalError
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

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


class ServiceError(Exception):
    """A request this service cannot serve, raised from anywhere below a view: the client gets ``status``, ``message``
    (and ``errors``, field → messages) in the one error shape."""

    def __init__(self, status: int, message: str, errors: dict[str, list[str]] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors


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


def flatten_validation_errors(errors: Any) -> dict[str, list[str]]:
    """webargs nests messages under the request location ({"json": {"name": [...]}}); clients want field → messages."""
    if not isinstance(errors, dict):
        return {"_request": [str(errors)]}
    flat: dict[str, list[str]] = {}
    for location, fields in errors.items():
        if location in {"json", "query", "form", "files", "headers", "view_args"} and isinstance(fields, dict):
            for field, messages in fields.items():
                flat[str(field)] = _as_message_list(messages)
        else:
            flat[str(location)] = _as_message_list(fields)
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


def _handle_service_error(exc: ServiceError) -> Response:
    return error_response(exc.status, exc.message, exc.errors)


def _handle_unexpected(exc: Exception) -> Response:
    log.exception("unhandled exception", exc_info=exc)
    return error_response(500)


def _handle_database_unavailable(exc: Exception) -> Response:
    log.warning("database unavailable: %s", str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__)
    return error_response(503, "The database is unavailable; retry shortly.")


def register_error_handlers(app: Flask) -> None:
    """Every HTTP error and every uncaught exception becomes the one JSON shape (never HTML, never a trace)."""
    app.register_error_handler(HTTPException, _handle_http_exception)
    app.register_error_handler(ServiceError, _handle_service_error)
    # A database that is down or restarting (connection refused or lost) is a 503 the client may retry, not a bug.
    app.register_error_handler(OperationalError, _handle_database_unavailable)
    app.register_error_handler(InterfaceError, _handle_database_unavailable)
    app.register_error_handler(Exception, _handle_unexpected)
