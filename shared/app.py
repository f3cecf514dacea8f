"""The common start of every service's and the gateway's application factory."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask
from flask_smorest import Api

from shared import __version__
from shared.config import Setting, load_config
from shared.errors import register_error_handlers
from shared.logs import configure_logging, init_request_logging


def create_base_app(
    service: str,
    import_name: str,
    config: Mapping[str, Any] | None = None,
    service_settings: tuple[Setting, ...] = (),
) -> Flask:
    """A Flask app with configuration, JSON logging with request ids, optional trailing slashes and the error shape."""
    app = Flask(import_name)
    app.config.update(load_config(config, service_settings))
    app.config["SERVICE_NAME"] = service
    app.config["MAX_CONTENT_LENGTH"] = app.config["MAX_JSON_BYTES"]
    app.url_map.strict_slashes = False
    app.json.sort_keys = False
    configure_logging(service, app.config["LOG_LEVEL"])
    init_request_logging(app)
    register_error_handlers(app)
    return app


def init_api(app: Flask, api: Api, title: str) -> None:
    """Attach a flask-smorest Api (the service's OpenAPI document at /openapi.json), keeping our error shape."""
    app.config.update(
        API_TITLE=title,
        API_VERSION=__version__,
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
    )
    api.init_app(app)
    api.spec.components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"})
    # flask-smorest registers its own HTTPException handler; ours produces the same shape, flattened, everywhere.
    register_error_handlers(app)
