"""Gateway: the only public entry. Checks JWTs and project ownership, then proxies to the owning service."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask

from shared.app import create_base_app
from shared.db import check_database, init_db
from shared.health import make_health_blueprint
from shared.user_tokens import init_user_tokens

SERVICE = "gateway"


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    app = create_base_app(SERVICE, __name__, config)
    init_db(app)
    init_user_tokens(app)
    app.register_blueprint(make_health_blueprint(SERVICE, {"database": check_database}))
    return app
