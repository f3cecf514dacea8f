"""Secrets: no fixed secret in the code, dev mode's own secrets made on first use and kept private, each service
holding only the secrets it uses, and no two purposes sharing one secret.

``make run`` is started for real (on SQLite, free ports and a temporary var folder).
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest
import requests

from gateway import create_app as create_gateway
from harness.make_run import MakeRun, make_run
from services.predictor import create_app as create_predictor
from services.projects import create_app as create_projects
from services.trainer import create_app as create_trainer
from shared.config import REPO_ROOT, SECRET_SETTINGS
from shared.dev_secrets import SECRET_NAMES
from shared.user_tokens import USER_TOKEN_AUDIENCE
from tests.platform_harness import DEFAULT_PASSWORD, bearer, free_port

# The fixed string every dev-mode platform signed its tokens with before: public, since it was in the repository.
FORMER_PUBLIC_DEV_SECRET = "salesml-embedded-dev-mode-only-secret-do-not-deploy"
RUN_LOCAL = REPO_ROOT / "scripts" / "run_local.sh"
SECRETS_READ_BY = {
    create_gateway: {"JWT_SECRET_KEY", "INTERNAL_TOKEN_SECRET"},
    create_projects: {"JWT_SECRET_KEY", "INTERNAL_TOKEN_SECRET"},
    create_trainer: {"INTERNAL_TOKEN_SECRET", "MODEL_SIGNING_KEY"},
    create_predictor: {"INTERNAL_TOKEN_SECRET", "MODEL_SIGNING_KEY"},
}


def environment_without_settings(**extra: str) -> dict[str, str]:
    """This process's environment without any SalesML secret or dev-mode switch, plus ``extra``."""
    names = {*SECRET_SETTINGS, "SALESML_DEV_MODE", "SALESML_VAR_DIR", "DATABASE_URL", "OBJECT_STORE_URL"}
    return {**{key: value for key, value in os.environ.items() if key not in names}, **extra}


def forged_access_token(user_id: int, key: str) -> str:
    now = int(time.time())
    claims = {
        "sub": str(user_id), "type": "access", "aud": USER_TOKEN_AUDIENCE, "sid": uuid.uuid4().hex,
        "jti": uuid.uuid4().hex, "iat": now, "nbf": now, "exp": now + 600,
    }  # fmt: skip
    return jwt.encode(claims, key, algorithm="HS256")


# --- each service its own secrets --------------------------------------------------------------------------------


@pytest.mark.parametrize("factory", list(SECRETS_READ_BY), ids=lambda factory: factory.__module__)
def test_each_service_reads_only_the_secrets_it_uses(factory, app_config, tmp_path, monkeypatch):
    for name in SECRET_NAMES:
        monkeypatch.setenv(name, app_config[name])  # every secret in the environment and in the overrides
    app = factory({**app_config, "UPLOAD_TMP_DIR": str(tmp_path / "uploads")})
    assert {name for name in SECRET_NAMES if name in app.config} == SECRETS_READ_BY[factory]

    # And it starts without the ones it does not use (outside dev mode, a missing secret it uses is refused).
    for name in SECRET_NAMES:
        monkeypatch.delenv(name)
    only_its_own = {key: value for key, value in app_config.items() if key not in SECRET_NAMES}
    only_its_own.update({name: app_config[name] for name in SECRETS_READ_BY[factory]})
    factory({**only_its_own, "UPLOAD_TMP_DIR": str(tmp_path / "uploads")})


# --- dev mode's secrets ------------------------------------------------------------------------------------------


def run_dev_secrets(var_dir: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = environment_without_settings(SALESML_DEV_MODE="1", SALESML_VAR_DIR=str(var_dir), **env)
    return subprocess.run(
        [sys.executable, "-m", "shared.dev_secrets", *args],
        cwd=REPO_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_dev_secrets_are_made_once_random_and_private_then_reused(tmp_path):
    first = run_dev_secrets(tmp_path / "var")
    assert first.returncode == 0, first.stderr
    assert "made now" in first.stderr and "embedded development" in first.stderr
    path = tmp_path / "var" / "dev-secrets.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    made = json.loads(path.read_text())
    assert set(made) == set(SECRET_NAMES)
    assert len(set(made.values())) == 3 and all(len(value) >= 48 for value in made.values())
    assert FORMER_PUBLIC_DEV_SECRET not in made.values()

    again = run_dev_secrets(tmp_path / "var")
    assert again.returncode == 0 and "reused" in again.stderr
    assert json.loads(path.read_text()) == made
    other_machine = run_dev_secrets(tmp_path / "elsewhere")
    assert json.loads((tmp_path / "elsewhere" / "dev-secrets.json").read_text()) != made

    path.chmod(0o644)
    exposed = run_dev_secrets(tmp_path / "var")
    assert exposed.returncode == 1 and "readable by other users" in exposed.stderr
    assert other_machine.returncode == 0


def test_dev_mode_refuses_to_serve_beyond_loopback_without_the_operators_secrets(tmp_path):
    refused = run_dev_secrets(tmp_path / "var", "--gateway-host", "0.0.0.0")
    assert refused.returncode == 1 and "refusing to serve on 0.0.0.0" in refused.stderr
    assert not (tmp_path / "var" / "dev-secrets.json").exists()
    operator = {name: f"{name.lower()}-set-by-the-operator-{'x' * 32}" for name in SECRET_NAMES}
    assert run_dev_secrets(tmp_path / "var", "--gateway-host", "0.0.0.0", **operator).returncode == 0

    # Every server checks it too, whoever starts it (gunicorn.conf.py): refused before it binds.
    server = subprocess.run(
        [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py", "--bind", f"0.0.0.0:{free_port()}",
         "--no-control-socket", "gateway:create_app()"],
        cwd=REPO_ROOT,
        env=environment_without_settings(SALESML_DEV_MODE="1", SALESML_VAR_DIR=str(tmp_path / "var")),
        capture_output=True,
        text=True,
        timeout=60,
    )  # fmt: skip
    assert server.returncode != 0 and "refusing to serve on 0.0.0.0" in server.stderr

    run_local = subprocess.run(
        ["bash", str(RUN_LOCAL)],
        cwd=REPO_ROOT,
        env=environment_without_settings(
            SALESML_DEV_MODE="1", SALESML_VAR_DIR=str(tmp_path / "var2"), PY=sys.executable, GATEWAY_HOST="0.0.0.0"
        ),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run_local.returncode != 0 and "refusing to serve on 0.0.0.0" in run_local.stderr
    assert "started" not in run_local.stderr, "nothing may start"


@pytest.fixture
def dev_platform(tmp_path) -> Iterator[MakeRun]:
    """``make run`` as a newcomer starts it (dev mode, no secret set), logging at INFO to show its start-up."""
    with make_run(tmp_path, log_level="INFO") as running:
        yield running


@pytest.mark.e2e
def test_make_run_signs_with_its_own_random_secrets_not_a_public_one(dev_platform):
    url, var_dir, log = dev_platform.url, dev_platform.var_dir, dev_platform.log()
    assert "mode: embedded development" in log and "made now" in log
    assert "embedded development mode (for this machine only)" in log  # each service says so as it starts
    secrets_file = var_dir / "dev-secrets.json"
    assert stat.S_IMODE(secrets_file.stat().st_mode) == 0o600

    username = f"dev_{uuid.uuid4().hex[:10]}"
    registered = requests.post(f"{url}/api/v1/auth/register", json={"username": username, "password": DEFAULT_PASSWORD})
    assert registered.status_code == 201, registered.text
    user_id = registered.json()["id"]
    tokens = requests.post(f"{url}/api/v1/auth/login", json={"username": username, "password": DEFAULT_PASSWORD})
    assert requests.get(f"{url}/api/v1/auth/me", headers=bearer(tokens.json()["access_token"])).status_code == 200

    forged = requests.get(
        f"{url}/api/v1/auth/me", headers=bearer(forged_access_token(user_id, FORMER_PUBLIC_DEV_SECRET))
    )
    assert forged.status_code == 401, "a token signed with the formerly public dev secret must be refused"
    # Only whoever can read the owner-only file can sign: the platform really uses it.
    own = json.loads(secrets_file.read_text())["JWT_SECRET_KEY"]
    assert requests.get(f"{url}/api/v1/auth/me", headers=bearer(forged_access_token(user_id, own))).status_code == 200
