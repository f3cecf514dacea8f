"""Gateway: the only public entry. Checks JWTs and project ownership, then proxies to the owning service; serves the
web console at ``/``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from gateway import console, views
from gateway.config import SECRETS, SETTINGS
from gateway.openapi import MergedDocument
from gateway.ownership import OwnershipCache
from gateway.routing import SERVICES
from gateway.upstream import BodyCutShort, BodyTooLarge, ClientStoppedSending
from shared import __version__
from shared.app import create_base_app
from shared.db import check_database, init_db
from shared.dev_secrets import MIN_SECRET_BYTES
from shared.domain_errors import UpstreamBroken
from shared.health import ReadinessCheck, make_health_blueprint
from shared.service_client import ServiceClient, init_service_client
from shared.user_tokens import init_user_tokens

SERVICE = "gateway"


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    app = create_base_app(
        SERVICE,
        __name__,
        config,
        service_settings=SETTINGS,
        error_statuses={BodyTooLarge: 413, ClientStoppedSending: 408, BodyCutShort: 400},
        secrets=SECRETS,
        route_label=views.metrics_route,
    )
    if 0 < len(app.config["METRICS_TOKEN"].encode()) < MIN_SECRET_BYTES:
        raise RuntimeError(f"METRICS_TOKEN must be a random string of at least {MIN_SECRET_BYTES} bytes (or empty)")
    # The gateway parses no body itself: it passes each one on and the service caps what it reads. (A request's
    # max_content_length of None falls back to this setting, so the app-wide JSON cap would refuse every larger
    # upload or parquet prediction.)
    app.config["MAX_CONTENT_LENGTH"] = None
    # Paths are forwarded exactly as routed: never rewrite (or redirect) "//" into "/".
    app.url_map.merge_slashes = False
    if app.config["TRUSTED_PROXY_COUNT"] > 0:
        # Only the operator's own proxies' X-Forwarded-For entries are believed; a client's are ignored.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=app.config["TRUSTED_PROXY_COUNT"])  # type: ignore[method-assign]
    init_db(app)
    init_user_tokens(app)
    services = init_service_client(app)
    app.extensions["ownership_cache"] = OwnershipCache(app.config["OWNERSHIP_CACHE_SECONDS"])
    app.extensions["openapi_document"] = MergedDocument(
        SERVICES, views.fetch_service_document, app.config["OPENAPI_CACHE_SECONDS"], "SalesML API", __version__
    )
    app.register_blueprint(views.blp)
    app.register_blueprint(console.blp)
    checks: dict[str, ReadinessCheck] = {"database": check_database}
    for service in SERVICES:
        checks[service] = _service_health_check(services, service, app.config["HEALTH_CHECK_TIMEOUT_S"])
    app.register_blueprint(make_health_blueprint(SERVICE, checks))
    return app


def _service_health_check(services: ServiceClient, service: str, timeout_s: float) -> ReadinessCheck:
    def check() -> None:
        answer = services.send(service, "GET", "/health", {}, timeout=(timeout_s, timeout_s))
        if answer.status_code != 200:
            raise UpstreamBroken(f"the {service} service answered {answer.status_code} to /health")

    return check
