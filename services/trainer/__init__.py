"""Trainer service: training runs (AutoML with PyCaret in a background worker) and model versions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask

from services.trainer.extensions import api
from shared.app import create_base_app, init_api
from shared.db import check_database, init_db
from shared.health import make_health_blueprint
from shared.internal_auth import require_internal_token

SERVICE = "trainer"


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    app = create_base_app(SERVICE, __name__, config)
    init_db(app)
    require_internal_token(app, SERVICE)
    init_api(app, api, "SalesML trainer service")
    app.register_blueprint(make_health_blueprint(SERVICE, {"database": check_database}))
    return app
