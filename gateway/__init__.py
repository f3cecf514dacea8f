"""Gateway: the only public entry. Checks JWTs and project ownership, then proxies to the owning service."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask, Response
from sqlalchemy.exc import InterfaceError, OperationalError

from gateway import views
from gateway.config import SETTINGS
from gateway.openapi import MergedDocument
from gateway.ownership import OwnershipCache
from gateway.routing import SERVICES
from gateway.upstream import UpstreamFailure, Upstreams
from shared import __version__
from shared.app import create_base_app
from shared.db import check_database, init_db
from shared.errors import error_response
from shared.health import ReadinessCheck, make_health_blueprint
from shared.user_tokens import init_user_tokens

SERVICE = "gateway"


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    app = create_base_app(SERVICE, __name__, config, service_settings=SETTINGS)
    # The gateway reads no body itself: it streams each one on and the service caps what it reads. (A request's
    # max_content_length of None falls back to this setting, so the app-wide JSON cap would refuse every larger
    # upload or parquet prediction.)
    app.config["MAX_CONTENT_LENGTH"] = None
    # Paths are forwarded exactly as routed: never rewrite (or redirect) "//" into "/".
    app.url_map.merge_slashes = False
    init_db(app)
    init_user_tokens(app)
    upstreams = Upstreams(
        {service: app.config[f"{service.upper()}_URL"] for service in SERVICES},
        connect_timeout_s=app.config["UPSTREAM_CONNECT_TIMEOUT_S"],
        read_timeout_s=app.config["UPSTREAM_READ_TIMEOUT_S"],
    )
    app.extensions["upstreams"] = upstreams
    app.extensions["ownership_cache"] = OwnershipCache(app.config["OWNERSHIP_CACHE_SECONDS"])
    app.extensions["openapi_document"] = MergedDocument(
        SERVICES, views.fetch_service_document, app.config["OPENAPI_CACHE_SECONDS"], "SalesML API", __version__
    )
    app.register_error_handler(UpstreamFailure, _upstream_failure)
    app.register_error_handler(OperationalError, _database_unavailable)
    app.register_error_handler(InterfaceError, _database_unavailable)
    app.register_blueprint(views.blp)
    checks: dict[str, ReadinessCheck] = {"database": check_database}
    for service in SERVICES:
        checks[service] = _service_health_check(upstreams, service, app.config["HEALTH_CHECK_TIMEOUT_S"])
    app.register_blueprint(make_health_blueprint(SERVICE, checks))
    return app


def _upstream_failure(failure: UpstreamFailure) -> Response:
    return error_response(failure.code, failure.message)


def _database_unavailable(_exc: Exception) -> Response:
    return error_response(503, "the database is unavailable")


def _service_health_check(upstreams: Upstreams, service: str, timeout_s: float) -> ReadinessCheck:
    def check() -> None:
        answer = upstreams.send(service, "GET", "/health", {}, stream=False, timeout=(timeout_s, timeout_s))
        if answer.status_code != 200:
            raise UpstreamFailure(502, f"the {service} service answered {answer.status_code} to /health")

    return check
