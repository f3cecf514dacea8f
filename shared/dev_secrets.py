"""The embedded dev mode's secrets: random, one per purpose, made on first use and kept in
``SALESML_VAR_DIR/dev-secrets.json`` (readable by its owner only), so every process of ``make run`` and every later
``make run`` on this machine uses the same ones. No secret is written in the code.

    python -m shared.dev_secrets --gateway-host 127.0.0.1

``make run`` (``scripts/run_local.sh``) calls it before starting anything: it makes (or reuses) the file, says which
mode runs, and refuses a gateway on an address other than loopback unless the operator set real secrets.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import secrets
import stat
import sys
from collections.abc import Mapping
from pathlib import Path

# One secret per purpose: user tokens, internal tokens, model artifacts.
SECRET_NAMES = ("JWT_SECRET_KEY", "INTERNAL_TOKEN_SECRET", "MODEL_SIGNING_KEY")
FILE_NAME = "dev-secrets.json"
SECRET_BYTES = 48
MIN_SECRET_BYTES = 32


class DevSecretsRefused(Exception):
    """The dev secrets file is unsafe or unreadable, or dev mode was asked for something it must not do."""


def dev_secrets_path(var_dir: Path) -> Path:
    return var_dir / FILE_NAME


def load_or_create(path: Path, names: tuple[str, ...] = SECRET_NAMES) -> tuple[dict[str, str], bool]:
    """The secrets ``names`` in ``path`` and whether they were created now. Safe when several processes start at
    once: the file appears whole (linked from a private temporary file) and only the first one is kept.
    ``make stack`` keeps its own secrets (the S3 keys too) this way."""
    if path.exists():
        return read(path, names), False
    path.parent.mkdir(parents=True, exist_ok=True)
    made = {name: secrets.token_urlsafe(SECRET_BYTES) for name in names}
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w") as file:
            json.dump(made, file, indent=2)
            file.flush()
            os.fsync(file.fileno())
        os.link(temporary, path)
        created = True
    except FileExistsError:  # another process of the same start made it first: use that one
        created = False
    finally:
        temporary.unlink(missing_ok=True)
    return read(path, names), created


def read(path: Path, names: tuple[str, ...] = SECRET_NAMES) -> dict[str, str]:
    """The secrets ``names`` of an existing file, refused if other users may read it or it is not ours."""
    info = path.stat()
    if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise DevSecretsRefused(
            f"{path} is readable by other users (mode {stat.filemode(info.st_mode)}): delete it (new secrets are "
            "made at the next start, and existing tokens and models stop working) or `chmod 600` it"
        )
    if info.st_uid != os.getuid():
        raise DevSecretsRefused(f"{path} belongs to another user: delete it so that new secrets are made")
    try:
        stored = json.loads(path.read_text())
    except ValueError as exc:
        raise DevSecretsRefused(f"{path} is not valid JSON: delete it so that new secrets are made") from exc
    if not isinstance(stored, dict) or any(
        not isinstance(stored.get(name), str) or len(stored[name].encode()) < MIN_SECRET_BYTES for name in names
    ):
        raise DevSecretsRefused(f"{path} lacks a secret of {MIN_SECRET_BYTES}+ bytes: delete it so new ones are made")
    return {name: stored[name] for name in names}


def operator_set_every_secret(environ: Mapping[str, str]) -> bool:
    return all(len(environ.get(name, "").encode()) >= MIN_SECRET_BYTES for name in SECRET_NAMES)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind_address(host: str, dev_mode: bool, environ: Mapping[str, str]) -> None:
    """Dev mode serves this machine only: another bind address needs the operator's own secrets."""
    if dev_mode and not is_loopback(host) and not operator_set_every_secret(environ):
        raise DevSecretsRefused(
            f"refusing to serve on {host} in dev mode: other machines could reach it. Bind to "
            f"127.0.0.1, or set {', '.join(SECRET_NAMES)} yourself (random, {MIN_SECRET_BYTES}+ bytes each)"
        )


def main(argv: list[str]) -> int:
    from shared.config import VAR_DIR, dev_mode_from_environment

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gateway-host", default="127.0.0.1", help="the address the gateway will bind")
    args = parser.parse_args(argv)
    dev_mode = dev_mode_from_environment()
    try:
        check_bind_address(args.gateway_host, dev_mode, os.environ)
        if not dev_mode:
            print("mode: production (SALESML_DEV_MODE is off): secrets from the environment", file=sys.stderr)
        elif operator_set_every_secret(os.environ):
            print("mode: embedded development, with the operator's secrets from the environment", file=sys.stderr)
        else:
            path = dev_secrets_path(VAR_DIR)
            _, created = load_or_create(path)
            print(
                f"mode: embedded development (SALESML_DEV_MODE=1, this machine only): secrets not set in the "
                f"environment come from {path} ({'made now' if created else 'reused'}, readable by you only)",
                file=sys.stderr,
            )
    except DevSecretsRefused as refusal:
        print(f"error: {refusal}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
