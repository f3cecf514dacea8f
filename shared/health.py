"""``GET /health`` (liveness: checks nothing else) and ``GET /health/ready`` (each dependency, 503 naming a failure)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from flask import Blueprint, jsonify

from shared import __version__
from shared.errors import error_response

log = logging.getLogger(__name__)

ReadinessCheck = Callable[[], None]


def make_health_blueprint(service: str, checks: Mapping[str, ReadinessCheck]) -> Blueprint:
    """``checks`` maps a dependency's name to a function that raises when that dependency is not usable."""
    blueprint = Blueprint("health", __name__)

    @blueprint.get("/health")
    def health():
        return jsonify(status="ok", service=service, version=__version__)

    @blueprint.get("/health/ready")
    def ready():
        failures: dict[str, list[str]] = {}
        for name, check in checks.items():
            try:
                check()
            except Exception as exc:  # any failure means "not ready"; say which dependency and why
                log.warning("readiness check %s failed: %s", name, exc)
                failures[name] = [f"{type(exc).__name__}: {str(exc)[:200]}"]
        if failures:
            return error_response(503, f"not ready: {', '.join(failures)} unavailable", failures)
        return jsonify(status="ready", service=service, version=__version__, checks={n: "ok" for n in checks})

    return blueprint
