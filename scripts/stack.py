"""The steps of ``make stack`` (``scripts/run_stack.sh``) that need Python: the production shape on this machine.

    python -m scripts.stack prepare --database-url URL      # secrets file (made once), database made and migrated
    python -m scripts.stack s3 --dir DIR --port P --bucket B   # SeaweedFS as S3 until SIGTERM or SIGINT
    python -m scripts.stack role gateway                    # docker/start.sh gateway, with its own secrets only

Production mode: the secrets are random, made once into ``SALESML_VAR_DIR/stack-secrets.json`` (readable by its
owner only) and reused after. As in docker-compose.yml, each process is given only the secrets its service reads
(the ``SECRETS`` of its config module, and the S3 keys if it uses the object store).
"""

from __future__ import annotations

import argparse
import ast
import os
import signal
import sys
from pathlib import Path
from typing import NoReturn

from shared.config import REPO_ROOT, SETTINGS, VAR_DIR, normalize_database_url
from shared.dev_secrets import SECRET_NAMES, DevSecretsRefused, load_or_create

S3_KEYS = ("S3_ACCESS_KEY", "S3_SECRET_KEY")
STACK_SECRET_NAMES = (*SECRET_NAMES, *S3_KEYS)
START_SCRIPT = REPO_ROOT / "docker" / "start.sh"
# The service whose settings each role of docker/start.sh reads.
ROLE_SERVICES = {
    "gateway": "gateway",
    "projects": "projects",
    "trainer": "trainer",
    "worker": "trainer",
    "predictor": "predictor",
}


STACK_SECRETS_FILE = "stack-secrets.json"
BUCKET = "salesml"


def stack_secrets_path() -> Path:
    return VAR_DIR / STACK_SECRETS_FILE


def stack_secrets() -> dict[str, str]:
    return load_or_create(stack_secrets_path(), STACK_SECRET_NAMES)[0]


def service_secret_names(service: str) -> tuple[str, ...]:
    """The ``SECRETS`` of a service's config module, read from its source: importing it would import the service's
    package, seconds (the trainer's: pandas, PyArrow) that the process started next spends again."""
    path = REPO_ROOT / ("gateway" if service == "gateway" else f"services/{service}") / "config.py"
    for statement in ast.parse(path.read_text()).body:
        if isinstance(statement, ast.Assign) and [ast.unparse(target) for target in statement.targets] == ["SECRETS"]:
            return tuple(ast.literal_eval(statement.value))
    raise LookupError(f"{path} has no SECRETS = (...)")


def role_secret_names(role: str) -> tuple[str, ...]:
    service = ROLE_SERVICES[role]
    s3_secret = next(setting for setting in SETTINGS if setting.name == "S3_SECRET_KEY")
    object_store_users = {name.strip() for name in s3_secret.used_by.split(",")}
    return (*service_secret_names(service), *(S3_KEYS if service in object_store_users else ()))


def prepare(database_url: str) -> None:
    # Imported here, as in serve_object_store: `role` starts its process at once without them.
    from sqlalchemy import make_url

    from harness.databases import create_database_if_missing
    from shared.migrate import upgrade

    if not normalize_database_url(database_url).startswith("postgresql"):
        raise SystemExit(f"error: make stack runs on PostgreSQL; DATABASE_URL is {database_url!r}")
    path = stack_secrets_path()
    try:
        _, secrets_made = load_or_create(path, STACK_SECRET_NAMES)
    except DevSecretsRefused as refusal:
        raise SystemExit(f"error: {refusal}") from refusal
    print(
        f"mode: production (SALESML_DEV_MODE off): secrets from {path} ({'made now' if secrets_made else 'reused'}, "
        "readable by you only)",
        file=sys.stderr,
    )
    database_made = create_database_if_missing(database_url)
    upgrade(normalize_database_url(database_url))
    shown = make_url(database_url).render_as_string(hide_password=True)
    print(f"database: {shown} ({'created' if database_made else 'existing'}), migrated", file=sys.stderr)


def serve_object_store(data_dir: Path, port: int, bucket: str) -> int:
    """SeaweedFS with the stack's S3 keys and ``bucket``, until SIGTERM or SIGINT (0) or until it exits (1)."""
    from harness.seaweedfs import SeaweedFS

    keys = stack_secrets()
    server = SeaweedFS(data_dir, keys["S3_ACCESS_KEY"], keys["S3_SECRET_KEY"], s3_port=port)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        server.start()
        server.make_bucket(bucket, exist_ok=True)
        print(f"S3 (SeaweedFS) on {server.endpoint}, bucket {bucket}, data in {data_dir}", file=sys.stderr)
        server.process.wait()
        print(f"SeaweedFS exited with {server.process.returncode}:\n{server.log_tail()}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        server.stop()


def exec_role(role: str) -> NoReturn:
    """Become ``docker/start.sh <role>`` (as a container would run it), given only the secrets its service reads."""
    secrets = stack_secrets()
    env = {name: value for name, value in os.environ.items() if name not in STACK_SECRET_NAMES}
    env.pop("SALESML_DEV_MODE", None)  # production mode, whatever the calling shell says
    env.update({name: secrets[name] for name in role_secret_names(role)})
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = str(REPO_ROOT)
    os.execve(START_SCRIPT, [str(START_SCRIPT), role], env)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    prepare_command = commands.add_parser("prepare", help="make or reuse the secrets; make and migrate the database")
    prepare_command.add_argument("--database-url", required=True)
    s3_command = commands.add_parser("s3", help="run SeaweedFS as the S3 object store")
    s3_command.add_argument("--dir", type=Path, required=True, help="SeaweedFS's data folder")
    s3_command.add_argument("--port", type=int, required=True, help="the S3 port (127.0.0.1)")
    s3_command.add_argument("--bucket", required=True)
    role_command = commands.add_parser("role", help="run docker/start.sh <role> with its own secrets")
    role_command.add_argument("role", choices=sorted(ROLE_SERVICES))
    args = parser.parse_args(argv)
    if args.command == "prepare":
        prepare(args.database_url)
        return 0
    if args.command == "s3":
        return serve_object_store(args.dir, args.port, args.bucket)
    exec_role(args.role)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
