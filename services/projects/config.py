"""Settings read only by the projects service (the common ones are in ``shared.config.SETTINGS``)."""

from __future__ import annotations

from shared.config import VAR_DIR, Setting

# Issues and revokes users' tokens; calls and is called with internal tokens. Never the model signing key.
SECRETS = ("JWT_SECRET_KEY", "INTERNAL_TOKEN_SECRET")

SETTINGS: tuple[Setting, ...] = (
    Setting(
        "LOGIN_MAX_FAILURES",
        5,
        int,
        description="Login attempts for one username from one client address before that pair is locked out (429); "
        "a successful login starts the count over. Another address (the owner's) is not affected.",
    ),
    Setting(
        "LOGIN_MAX_FAILURES_PER_ADDRESS",
        50,
        int,
        description="Failed logins from one client address, over every username, before that address is locked out.",
    ),
    Setting(
        "REGISTRATIONS_PER_ADDRESS",
        20,
        int,
        description="Registrations from one client address before that address is locked out of registering.",
    ),
    Setting(
        "LOGIN_LOCKOUT_SECONDS",
        300,
        int,
        description="The first lockout (login or registration); each attempt after one ends locks out twice as long.",
    ),
    Setting("LOGIN_LOCKOUT_MAX_SECONDS", 3600, int, description="The longest lockout."),
    Setting(
        "THROTTLE_WINDOW_SECONDS",
        86400,
        int,
        description="Login and registration counts are forgotten this long after their last attempt.",
    ),
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
