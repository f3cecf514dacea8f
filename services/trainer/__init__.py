"""Trainer service: training runs (AutoML with PyCaret in a background worker) and model versions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask

from services.trainer import internal
from services.trainer.api import model_versions, training_runs
from services.trainer.config import SETTINGS
from services.trainer.extensions import api
from shared.app import create_base_app, init_api
from shared.db import check_database, init_db
from shared.health import make_health_blueprint
from shared.internal_auth import require_internal_token
from shared.service_client import init_service_client
from shared.storage import open_object_store

SERVICE = "trainer"


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    app = create_base_app(SERVICE, __name__, config, service_settings=SETTINGS)
    init_db(app)
    init_service_client(app)
    object_store = open_object_store(app.config["OBJECT_STORE_URL"], app.config)
    app.extensions["object_store"] = object_store
    require_internal_token(app, SERVICE)
    init_api(app, api, "SalesML trainer service")
    api.register_blueprint(training_runs.blp)
    api.register_blueprint(model_versions.blp)
    app.register_blueprint(internal.blp)
    app.register_blueprint(
        make_health_blueprint(SERVICE, {"database": check_database, "object_store": object_store.check})
    )
    return app
