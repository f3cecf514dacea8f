"""Settings read only by the projects service (the common ones are in ``shared.config.SETTINGS``)."""

from __future__ import annotations

from shared.config import VAR_DIR, Setting

# Issues and revokes users' tokens; calls and is called with internal tokens. Never the model signing key.
SECRETS = ("JWT_SECRET_KEY", "INTERNAL_TOKEN_SECRET")

SETTINGS: tuple[Setting, ...] = (
    Setting(
        "UPLOAD_TMP_DIR",
        str(VAR_DIR / "uploads"),
        description="Uploads are spooled here (multipart parts and the checked copy), never kept whole in memory.",
    ),
    Setting(
        "DATASET_PROFILE_TIMEOUT_S",
        300.0,
        float,
        description="Longest time checking and profiling one uploaded file may take (422 after). Keep it well below "
        "the gateway's `UPLOAD_READ_TIMEOUT_S`, which also covers the object-store PUT.",
    ),
)
