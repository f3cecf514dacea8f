"""Settings only the gateway reads (the common ones, service URLs and upstream timeouts, are in shared/config.py)."""

from __future__ import annotations

from shared.config import Setting

SETTINGS: tuple[Setting, ...] = (
    Setting("PROXY_CHUNK_BYTES", 64 * 1024, int),
    Setting("HEALTH_CHECK_TIMEOUT_S", 2.0, float),
    Setting("OPENAPI_CACHE_SECONDS", 300.0, float),
)
