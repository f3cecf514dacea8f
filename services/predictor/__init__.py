"""Predictor service: predictions (with explanations), what-if curves and actuals reports from a project's model."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask

from services.predictor.api import actuals, forecast, predict, what_if
from services.predictor.config import SECRETS, SETTINGS
from services.predictor.errors import ERROR_STATUSES
from services.predictor.extensions import MODEL_CACHE_EXTENSION, SERVING_VERSIONS_EXTENSION, api
from services.predictor.model_cache import BatchingSettings, ModelCache, ServingVersions, quiet_pycaret_logging
from shared.app import create_service_app

SERVICE = "predictor"


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    app = create_service_app(
        SERVICE,
        __name__,
        config,
        SETTINGS,
        api,
        public_blueprints=(predict.blp, forecast.blp, what_if.blp, actuals.blp),
        error_statuses=ERROR_STATUSES,
        secrets=SECRETS,
    )
    quiet_pycaret_logging()
    app.extensions[MODEL_CACHE_EXTENSION] = ModelCache(
        max_bytes=app.config["PREDICTOR_CACHE_MAX_BYTES"],
        batching=BatchingSettings(
            enabled=app.config["PREDICT_BATCHING"],
            window_s=app.config["PREDICT_BATCH_WINDOW_MS"] / 1000.0,
            max_rows=app.config["PREDICT_BATCH_MAX_ROWS"],
            timeout_s=app.config["PREDICT_BATCH_TIMEOUT_S"],
        ),
        max_string_length=app.config["PREDICT_MAX_STRING_LENGTH"],
        signing_key=app.config["MODEL_SIGNING_KEY"],
        compiled=app.config["PREDICT_COMPILED"],
    )
    app.extensions[SERVING_VERSIONS_EXTENSION] = ServingVersions(app.config["PREDICT_SERVING_VERSION_TTL_S"])
    return app
