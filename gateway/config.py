"""Settings only the gateway reads (the common ones, service URLs and upstream timeouts, are in shared/config.py)."""

from __future__ import annotations

from shared.config import Setting

# Verifies users' tokens and signs the internal ones; never the model signing key.
SECRETS = ("JWT_SECRET_KEY", "INTERNAL_TOKEN_SECRET")

SETTINGS: tuple[Setting, ...] = (
    Setting(
        "TRUSTED_PROXY_COUNT",
        0,
        int,
        description="Reverse proxies in front of the gateway whose `X-Forwarded-For` entries are believed (werkzeug's "
        "ProxyFix). 0: the client's address is the TCP peer and `X-Forwarded-For` is ignored. The address is what "
        "login and registration throttles count by.",
    ),
    Setting(
        "PROXY_CHUNK_BYTES",
        64 * 1024,
        int,
        description="Size of the chunks the gateway streams bodies in; a body or answer no longer than one goes "
        "through whole.",
    ),
    Setting(
        "HEALTH_CHECK_TIMEOUT_S",
        2.0,
        float,
        description="Timeout of each downstream /health call made by the gateway's readiness.",
    ),
    Setting(
        "OPENAPI_CACHE_SECONDS", 300.0, float, description="How long the gateway keeps the merged OpenAPI document."
    ),
    Setting(
        "CLIENT_BODY_IDLE_TIMEOUT_S",
        30.0,
        float,
        description="A client that sends no byte of its request body for this long gets a 408 and its thread back "
        "(under gunicorn).",
    ),
    Setting(
        "UPLOAD_READ_TIMEOUT_S",
        450.0,
        float,
        description="Read timeout of the gateway's call for a dataset upload (504 after): the projects service answers "
        "only after profiling (up to `DATASET_PROFILE_TIMEOUT_S`) and storing the file, so keep it above that.",
    ),
    Setting(
        "METRICS_TOKEN",
        "",
        description="The gateway serves its Prometheus metrics at `/metrics` only to a request with "
        "`Authorization: Bearer <METRICS_TOKEN>` (at least 32 bytes); to any other, and to all while it is empty, "
        "`/metrics` is an unknown path (404).",
    ),
)
