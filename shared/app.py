"""The common start of every service's and the gateway's application factory."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

import flask
from flask import Flask
from flask_smorest import Api
from prometheus_client.registry import Collector

from shared import __version__
from shared.config import Setting, describe_secrets_mode, load_config
from shared.db import check_database, init_db
from shared.domain_errors import DomainError
from shared.errors import register_error_handlers
from shared.health import ReadinessCheck, make_health_blueprint
from shared.internal_auth import require_internal_token
from shared.logs import configure_logging, init_request_logging
from shared.metrics import RouteLabel, init_request_metrics, make_metrics_blueprint, url_rule_route
from shared.security_headers import init_security_headers
from shared.service_client import init_service_client
from shared.storage import open_object_store

log = logging.getLogger(__name__)


def create_base_app(
    service: str,
    import_name: str,
    config: Mapping[str, Any] | None = None,
    service_settings: tuple[Setting, ...] = (),
    error_statuses: Mapping[type[DomainError], int] | None = None,
    secrets: tuple[str, ...] = (),
    route_label: RouteLabel = url_rule_route,
) -> Flask:
    """A Flask app with configuration (and only the ``secrets`` it names), request metrics (``route_label`` names a
    request's route), JSON logging with request ids, optional trailing slashes, the security headers and the error
    shape (``error_statuses``: the HTTP status of each of this app's own domain errors)."""
    app = Flask(import_name)
    init_request_logging(app)  # first: its clock times every request, one answered by another before_request too
    init_request_metrics(app, service, route_label)
    app.config.update(load_config(config, service_settings, secrets))
    app.config["SERVICE_NAME"] = service
    app.config["MAX_CONTENT_LENGTH"] = app.config["MAX_JSON_BYTES"]
    app.url_map.strict_slashes = False
    app.json.sort_keys = False
    configure_logging(service, app.config["LOG_LEVEL"])
    if app.config["SALESML_DEV_MODE"]:
        log.warning("%s: %s", service, describe_secrets_mode(app.config))
    else:
        log.info("%s: %s", service, describe_secrets_mode(app.config))
    init_security_headers(app)
    register_error_handlers(app, error_statuses or {})
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


def create_service_app(
    service: str,
    import_name: str,
    config: Mapping[str, Any] | None,
    settings: tuple[Setting, ...],
    api: Api,
    public_blueprints: Iterable[flask.Blueprint],
    internal_blueprints: Iterable[flask.Blueprint] = (),
    uses_object_store: bool = False,
    error_statuses: Mapping[type[DomainError], int] | None = None,
    secrets: tuple[str, ...] = (),
    metrics_collectors: Iterable[Collector] = (),
) -> Flask:
    """A service's app: the base app, the database, the client for other services, the internal-token check on
    every route but /health* and /metrics, the OpenAPI ``api`` with the public blueprints, the internal blueprints,
    /health with readiness checks of the database (and of the object store, in ``app.extensions["object_store"]``),
    /metrics (with ``metrics_collectors``, read when scraped), and ``error_statuses`` for the service's domain errors;
    ``secrets`` names the only secrets it reads."""
    app = create_base_app(
        service, import_name, config, service_settings=settings, error_statuses=error_statuses, secrets=secrets
    )
    init_db(app)
    init_service_client(app)
    checks: dict[str, ReadinessCheck] = {"database": check_database}
    if uses_object_store:
        object_store = open_object_store(app.config["OBJECT_STORE_URL"], app.config)
        app.extensions["object_store"] = object_store
        checks["object_store"] = object_store.check
    require_internal_token(app, service)
    init_api(app, api, f"SalesML {service} service")
    for blueprint in public_blueprints:
        api.register_blueprint(blueprint)
    for blueprint in internal_blueprints:
        app.register_blueprint(blueprint)
    app.register_blueprint(make_health_blueprint(service, checks))
    app.register_blueprint(make_metrics_blueprint(metrics_collectors))
    return app
