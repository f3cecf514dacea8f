"""Configuration from environment variables.

Every variable is listed once with its embedded default (``SETTINGS`` here for what several services read, a
service's own in ``services/<name>/config.py``) and documented in the README table.
A service's ``create_app(config)`` may override any key (tests do).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shared.dev_secrets import MIN_SECRET_BYTES, SECRET_NAMES, dev_secrets_path, load_or_create

REPO_ROOT = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("SALESML_VAR_DIR", REPO_ROOT / "var"))

MIB = 1024 * 1024


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    kind: type = str
    description: str = ""
    used_by: str = "all"  # which processes read it: the README table's "used by" column


DEV_MODE = Setting(
    "SALESML_DEV_MODE",
    False,
    bool,
    description="Embedded development mode (`make run` sets it): a secret left unset is read from "
    "`SALESML_VAR_DIR/dev-secrets.json`, made with random secrets on first use (readable by its owner only), and "
    "the gateway serves loopback only unless every secret is set. Never in production.",
)

SETTINGS: tuple[Setting, ...] = (
    DEV_MODE,
    Setting(
        "DATABASE_URL",
        f"sqlite:///{VAR_DIR / 'salesml.db'}",
        description="The one database all services share (`postgresql://…` in the stack; SQLite by default).",
    ),
    Setting(
        "OBJECT_STORE_URL",
        f"file://{VAR_DIR / 'objects'}",
        description="Where dataset files live: `file:///path` or `s3://bucket`.",
        used_by="projects, trainer",
    ),
    Setting(
        "S3_ENDPOINT",
        "127.0.0.1:9000",
        description="host:port of the S3 endpoint (MinIO in the stack) for `s3://` stores.",
        used_by="projects, trainer",
    ),
    Setting("S3_ACCESS_KEY", "", description="S3 access key.", used_by="projects, trainer"),
    Setting("S3_SECRET_KEY", "", description="S3 secret key.", used_by="projects, trainer"),
    Setting("S3_SECURE", False, bool, description="Use HTTPS to reach the S3 endpoint.", used_by="projects, trainer"),
    Setting("S3_REGION", "us-east-1", description="S3 region name.", used_by="projects, trainer"),
    Setting("ACCESS_TOKEN_MINUTES", 15, int, description="Lifetime of an access token.", used_by="gateway, projects"),
    Setting("REFRESH_TOKEN_DAYS", 7, int, description="Lifetime of a refresh token.", used_by="gateway, projects"),
    Setting("INTERNAL_TOKEN_SECONDS", 60, int, description="Lifetime of an internal service token."),
    Setting("PROJECTS_URL", "http://127.0.0.1:8001", description="Base URL of the projects service."),
    Setting("TRAINER_URL", "http://127.0.0.1:8002", description="Base URL of the trainer service."),
    Setting("PREDICTOR_URL", "http://127.0.0.1:8003", description="Base URL of the predictor service."),
    Setting(
        "UPSTREAM_CONNECT_TIMEOUT_S", 3.0, float, description="Connect timeout for calls between services (then 503)."
    ),
    Setting("UPSTREAM_READ_TIMEOUT_S", 120.0, float, description="Read timeout for calls between services (then 504)."),
    Setting(
        "OWNERSHIP_CACHE_SECONDS",
        5.0,
        float,
        description="How long the gateway trusts a positive project-ownership answer.",
        used_by="gateway",
    ),
    Setting("LOG_LEVEL", "INFO", description="Log level of the JSON logs."),
    Setting("MAX_JSON_BYTES", 2 * MIB, int, description="Largest JSON request body (413 above)."),
    Setting(
        "PAGE_SIZE_MAX",
        100,
        int,
        description="Largest `page_size` a list accepts (422 above).",
        used_by="projects, trainer, predictor",
    ),
    Setting(
        "UPLOAD_MAX_BYTES",
        200 * MIB,
        int,
        description="Largest dataset upload, enforced while streaming (413).",
        used_by="gateway, projects",
    ),
    Setting(
        "PREDICT_MAX_JSON_BYTES",
        32 * MIB,
        int,
        description="Largest JSON /predict body (413 above).",
        used_by="gateway, predictor",
    ),
    Setting(
        "PREDICT_MAX_PARQUET_BYTES",
        256 * MIB,
        int,
        description="Largest parquet /predict body (413 above).",
        used_by="gateway, predictor",
    ),
    Setting("DATASET_MAX_ROWS", 5_000_000, int, description="Most rows a dataset may have (422).", used_by="projects"),
    Setting("DATASET_MAX_COLUMNS", 500, int, description="Most columns a dataset may have (422).", used_by="projects"),
    Setting(
        "DATASET_MAX_DECODED_BYTES",
        2048 * MIB,
        int,
        description="Most bytes a dataset may decode to (422): stops compressed 'bombs'.",
        used_by="projects",
    ),
    Setting("PREVIEW_MAX_ROWS", 500, int, description="Most rows a dataset preview returns.", used_by="projects"),
)

# Each service reads only the secrets it names (``SECRETS`` in its config module); the others never reach it.
SECRET_SETTINGS: dict[str, Setting] = {
    setting.name: setting
    for setting in (
        Setting(
            "JWT_SECRET_KEY",
            "",
            description="Signs users' access and refresh tokens (HS256); at least 32 bytes outside dev mode, and not "
            "equal to another secret.",
        ),
        Setting(
            "INTERNAL_TOKEN_SECRET",
            "",
            description="Signs the short-lived internal tokens between services; at least 32 bytes outside dev mode, "
            "and not equal to another secret.",
        ),
        Setting(
            "MODEL_SIGNING_KEY",
            "",
            description="HMAC key the trainer signs model artifacts with and the predictor checks before unpickling "
            "one; at least 32 bytes outside dev mode. Changing it makes existing models refuse to serve (retrain "
            "them).",
        ),
    )
}
assert tuple(SECRET_SETTINGS) == SECRET_NAMES


def _parse(setting: Setting, raw: str) -> Any:
    if setting.kind is bool:
        return raw.strip().lower() in {"1", "true", "yes", "on"}
    return setting.kind(raw)


def load_config(
    overrides: Mapping[str, Any] | None = None,
    service_settings: tuple[Setting, ...] = (),
    secrets: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Read the common and the service's own settings from the environment (or defaults), then apply ``overrides``.

    Of the secrets, only those named in ``secrets`` are read (and checked); any other is left out, even if the
    environment or ``overrides`` has it.
    """
    config: dict[str, Any] = {}
    for setting in SETTINGS + service_settings + tuple(SECRET_SETTINGS[name] for name in secrets):
        raw = os.environ.get(setting.name)
        config[setting.name] = setting.default if raw in (None, "") else _parse(setting, raw)
    config.update(overrides or {})
    for name in set(SECRET_NAMES) - set(secrets):
        config.pop(name, None)
    config["DATABASE_URL"] = normalize_database_url(config["DATABASE_URL"])
    _apply_secrets(config, secrets)
    return config


def dev_mode_from_environment() -> bool:
    return _parse(DEV_MODE, os.environ.get(DEV_MODE.name, ""))


def normalize_database_url(url: str) -> str:
    """SQLAlchemy 2.1 maps ``postgresql://`` to psycopg 3; we ship psycopg2 (psycopg2-binary)."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg2://" + url.removeprefix(prefix)
    return url


def describe_secrets_mode(config: Mapping[str, Any]) -> str:
    """What the start-up log says about where this process's secrets come from."""
    if not config["SALESML_DEV_MODE"]:
        return "production mode: secrets from the environment"
    return (
        f"embedded development mode (for this machine only): secrets not set in the environment come from "
        f"{dev_secrets_path(VAR_DIR)}"
    )


def _apply_secrets(config: dict[str, Any], names: tuple[str, ...]) -> None:
    """Each named secret as set (at least ``MIN_SECRET_BYTES``); in dev mode one left unset comes from the dev
    secrets file (made on first use). Refuse a short secret outside dev mode, and two equal secrets always: a user
    token must never pass for an internal token, nor the other way round."""
    missing = [name for name in names if len((config.get(name) or "").encode()) < MIN_SECRET_BYTES]
    if missing and config["SALESML_DEV_MODE"]:
        generated, _ = load_or_create(dev_secrets_path(VAR_DIR))
        config.update({name: generated[name] for name in missing})
    elif missing:
        raise RuntimeError(
            f"{missing[0]} must be set to a random secret of at least {MIN_SECRET_BYTES} bytes "
            "(or set SALESML_DEV_MODE=1 for the embedded development mode)"
        )
    values = [config[name] for name in names]
    if len(set(values)) != len(values):
        raise RuntimeError(f"{', '.join(names)} must all differ: each secret signs something else")
