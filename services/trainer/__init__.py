"""Trainer service: training runs (AutoML with PyCaret in a background worker) and model versions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask

from services.trainer import internal
from services.trainer.api import model_versions, training_runs
from services.trainer.api.errors import ERROR_STATUSES
from services.trainer.config import SECRETS, SETTINGS
from services.trainer.extensions import api
from services.trainer.metrics import QueueDepth
from shared.app import create_service_app

SERVICE = "trainer"


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    return create_service_app(
        SERVICE,
        __name__,
        config,
        SETTINGS,
        api,
        public_blueprints=(training_runs.blp, model_versions.blp),
        internal_blueprints=(internal.blp,),
        uses_object_store=True,
        error_statuses=ERROR_STATUSES,
        secrets=SECRETS,
        metrics_collectors=(QueueDepth(),),
    )
