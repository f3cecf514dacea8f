"""flask-smorest's ``Api`` and ``Blueprint`` with every error response documented in the one error shape, and a
JSON body parser that refuses what would otherwise fail deep in the code.

A view documents an error with ``@blp.alt_response(404, description=...)``; the body schema is ``ErrorSchema``
unless it names another, so the OpenAPI document is true for errors too (schemathesis checks the statuses).
"""

from __future__ import annotations

from typing import Any

import flask
import flask_smorest
import marshmallow
from flask_smorest import abort
from webargs.flaskparser import FlaskParser

from shared.errors import ErrorSchema


class Api(flask_smorest.Api):
    ERROR_SCHEMA = ErrorSchema
    # No catch-all "default" response: every status an operation can answer is listed, so it can be checked.
    DEFAULT_ERROR_RESPONSE_NAME = None


def first_lone_surrogate(value: Any, path: str = "") -> str | None:
    """The path (``field`` or ``field.0.key``) of the first text in ``value`` that is not valid Unicode: JSON may
    spell a lone surrogate (``"\\ud800"``), which no database, hash or file name can encode."""
    if isinstance(value, str):
        return None if _encodable(value) else (path or "_body")
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if not _encodable(str(key)):
                return path or "_body"
            found = first_lone_surrogate(item, where)
            if found is not None:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = first_lone_surrogate(item, f"{path}.{index}" if path else str(index))
            if found is not None:
                return found
    return None


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class JsonBodyParser(FlaskParser):
    """webargs' parser, but a body nested too deeply for Python's JSON decoder is a 400 (not a RecursionError, 500)
    and text that is not valid Unicode a 422 naming the field (not a UnicodeEncodeError further on)."""

    def _raw_load_json(self, req: flask.Request) -> Any:
        try:
            body = super()._raw_load_json(req)
        except RecursionError:
            abort(400, message="The JSON body is nested too deeply.")
        field = first_lone_surrogate(body)
        if field is not None:
            abort(422, errors={field: ["Not valid Unicode text (it holds a lone surrogate such as \\ud800)."]})
        return body


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = JsonBodyParser()

    def arguments(self, schema: Any, *args: Any, **kwargs: Any):  # noqa: ANN201 - a decorator
        """flask-smorest's, with a schema class made into its instance once here: webargs would make one for every
        request (a marshmallow schema holds no state of one load)."""
        if isinstance(schema, type) and issubclass(schema, marshmallow.Schema):
            schema = schema()
        return super().arguments(schema, *args, **kwargs)

    def alt_response(self, status_code: int, response: Any = None, **kwargs: Any):  # noqa: ANN201 - a decorator
        if response is None and int(status_code) >= 400:
            kwargs.setdefault("schema", ErrorSchema)
        return super().alt_response(status_code, response, **kwargs)
