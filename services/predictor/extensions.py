"""The predictor's extensions: its OpenAPI ``api`` and the per-process caches kept in ``app.extensions``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import current_app

from shared.api import Api
from shared.internal_auth import current_user_id

if TYPE_CHECKING:
    from services.predictor.model_cache import LoadedModel

api = Api()

MODEL_CACHE_EXTENSION = "predictor.models"
SERVING_VERSIONS_EXTENSION = "predictor.serving_versions"


def serving_model(project_id: int, version: int | None) -> LoadedModel:
    """The caller's model for the project: ``NoServingModel``, ``ModelVersionNotFound``, ``ModelUnusable``."""
    serving = current_app.extensions[SERVING_VERSIONS_EXTENSION].find(project_id, current_user_id(), version)
    return current_app.extensions[MODEL_CACHE_EXTENSION].get(serving)
