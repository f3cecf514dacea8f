"""Projects service: users and tokens, projects, datasets (parquet files in the object store)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

from services.projects.api import auth, datasets, internal, projects
from services.projects.api.errors import register_domain_errors
from services.projects.api.uploads import DiskSpooledRequest
from services.projects.config import SETTINGS
from services.projects.extensions import api
from shared.app import create_base_app, init_api
from shared.db import check_database, init_db
from shared.health import make_health_blueprint
from shared.internal_auth import require_internal_token
from shared.service_client import init_service_client
from shared.storage import open_object_store
from shared.user_tokens import init_user_tokens

SERVICE = "projects"


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    app = create_base_app(SERVICE, __name__, config, service_settings=SETTINGS)
    app.request_class = DiskSpooledRequest
    Path(app.config["UPLOAD_TMP_DIR"]).mkdir(parents=True, exist_ok=True)
    init_db(app)
    init_user_tokens(app)
    init_service_client(app)
    object_store = open_object_store(app.config["OBJECT_STORE_URL"], app.config)
    app.extensions["object_store"] = object_store
    require_internal_token(app, SERVICE)
    init_api(app, api, "SalesML projects service")
    api.register_blueprint(auth.blp)
    api.register_blueprint(projects.blp)
    api.register_blueprint(datasets.blp)
    app.register_blueprint(internal.blp)
    register_domain_errors(app)
    app.register_blueprint(
        make_health_blueprint(SERVICE, {"database": check_database, "object_store": object_store.check})
    )
    return app
