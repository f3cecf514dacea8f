"""flask-smorest's ``Api`` and ``Blueprint`` with every error response documented in the one error shape.

A view documents an error with ``@blp.alt_response(404, description=...)``; the body schema is ``ErrorSchema``
unless it names another, so the OpenAPI document is true for errors too (schemathesis checks the statuses).
"""

from __future__ import annotations

from typing import Any

import flask_smorest

from shared.errors import ErrorSchema


class Api(flask_smorest.Api):
    ERROR_SCHEMA = ErrorSchema
    # No catch-all "default" response: every status an operation can answer is listed, so it can be checked.
    DEFAULT_ERROR_RESPONSE_NAME = None


class Blueprint(flask_smorest.Blueprint):
    def alt_response(self, status_code: int, response: Any = None, **kwargs: Any):  # noqa: ANN201 - a decorator
        if response is None and int(status_code) >= 400:
            kwargs.setdefault("schema", ErrorSchema)
        return super().alt_response(status_code, response, **kwargs)
