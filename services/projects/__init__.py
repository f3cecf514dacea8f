"""Projects service: users and tokens, projects, datasets (parquet files in the object store)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

from services.projects.api import auth, datasets, internal, projects
from services.projects.api.errors import ERROR_STATUSES
from services.projects.api.uploads import DiskSpooledRequest
from services.projects.config import SECRETS, SETTINGS
from services.projects.extensions import api
from shared.app import create_service_app
from shared.user_tokens import init_user_tokens

SERVICE = "projects"


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    app = create_service_app(
        SERVICE,
        __name__,
        config,
        SETTINGS,
        api,
        public_blueprints=(auth.blp, projects.blp, datasets.blp),
        internal_blueprints=(internal.blp,),
        uses_object_store=True,
        error_statuses=ERROR_STATUSES,
        secrets=SECRETS,
    )
    app.request_class = DiskSpooledRequest
    Path(app.config["UPLOAD_TMP_DIR"]).mkdir(parents=True, exist_ok=True)
    init_user_tokens(app)
    return app
