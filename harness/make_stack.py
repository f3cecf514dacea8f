"""``make stack`` started as an operator starts it: the production shape on this machine (PostgreSQL, SeaweedFS as
S3, gunicorn as in the containers, two training workers, production mode with its own secrets), here on free ports,
a PostgreSQL database and a folder of the caller's, with none of the SalesML settings the calling process may
carry."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil

from harness.make_run import PLATFORM_PORTS, MakeRun, make_target
from harness.processes import WORKER_MODULE, free_port, free_ports_in_a_row
from scripts.stack import BUCKET, STACK_SECRET_NAMES, STACK_SECRETS_FILE
from shared.dev_secrets import read

TRAINING_WORKERS = 2  # scripts/run_stack.sh's default


class MakeStack(MakeRun):
    """A running ``make stack``: also its secrets, its S3 bucket and its processes by role."""

    def secrets_path(self) -> Path:
        return self.var_dir / STACK_SECRETS_FILE

    def bucket_keys(self) -> list[str]:
        """Every object key in the stack's bucket, read from SeaweedFS with the stack's own S3 keys."""
        from minio import Minio

        secrets = read(self.secrets_path(), STACK_SECRET_NAMES)
        client = Minio(
            f"127.0.0.1:{self.ports['s3']}",
            access_key=secrets["S3_ACCESS_KEY"],
            secret_key=secrets["S3_SECRET_KEY"],
            secure=False,
        )
        return [item.object_name for item in client.list_objects(BUCKET, recursive=True)]

    def worker_metrics_urls(self) -> list[str]:
        """Where each training worker serves its Prometheus metrics."""
        first = self.ports["worker_metrics"]
        return [f"http://127.0.0.1:{first + offset}/metrics" for offset in range(TRAINING_WORKERS)]

    def training_workers(self) -> list[psutil.Process]:
        return [process for process in self.processes() if WORKER_MODULE in process.cmdline()]

    def gunicorn_masters(self) -> dict[str, psutil.Process]:
        """The gunicorn master of each app by its factory (``gateway:create_app()``...); its workers are its
        children (forked: the same command line)."""
        masters = {}
        for process in self.processes():
            command = process.cmdline()
            factory = next((part for part in command if part.endswith(":create_app()")), None)
            if factory and process.parent().cmdline() != command:
                masters[factory] = process
        return masters


@contextmanager
def make_stack(
    folder: Path, database_url: str, log_level: str = "WARNING", settings: dict[str, str] | None = None
) -> Iterator[MakeStack]:
    """``make stack`` on free ports against ``database_url`` (made if missing), with ``settings`` in the operator's
    environment, its var folder and log in ``folder``; ready when yielded, stopped with Ctrl-C at the end."""
    ports = {name: free_port() for name in (*PLATFORM_PORTS, "s3")}
    ports["worker_metrics"] = free_ports_in_a_row(TRAINING_WORKERS)  # worker N's: this port + N - 1
    # A dev mode left in the operator's shell must not reach the stack: it runs in production mode all the same.
    environment = {**(settings or {}), "DATABASE_URL": database_url, "SALESML_DEV_MODE": "1"}
    with make_target("stack", folder, ports, environment, log_level, MakeStack) as running:
        yield running
