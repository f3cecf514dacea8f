"""The end-to-end suite's ``platform`` on ``make stack`` (``pytest --platform=stack``): the production shape that an
operator starts (PostgreSQL, SeaweedFS as S3, gunicorn with the containers' worker counts, two training workers,
secrets made by the stack) seen through the surface the tests read from ``harness.processes.Platform``.

``make stack`` starts and stops its processes together, so a test that stops or restarts one of them (to see the
rest cope, or to try other limits) skips here; it runs on the suite's usual platform."""

from __future__ import annotations

from typing import Any

import psutil
import pytest

from harness.make_stack import MakeStack
from harness.processes import SERVICES, WORKER
from scripts.stack import BUCKET, STACK_SECRET_NAMES
from shared.config import SETTINGS
from shared.dev_secrets import read

# make stack leaves the region to the services' default.
S3_REGION = next(setting.default for setting in SETTINGS if setting.name == "S3_REGION")


def skip_restart(name: str) -> None:
    pytest.skip(
        f"make stack runs its processes together: this test stops or restarts the {name} alone (it runs on "
        "the suite's usual platform)"
    )


class StackPlatform:
    """A running ``make stack`` as the e2e tests see a platform: URLs, ports, the settings its processes got, each
    process, its log."""

    def __init__(self, stack: MakeStack, database_url: str, settings: dict[str, str]) -> None:
        self.stack = stack
        self.ports = stack.ports
        self.log_dir = stack.log_path.parent
        secrets = read(stack.secrets_path(), STACK_SECRET_NAMES)
        self.env: dict[str, str] = {
            **settings,
            **secrets,
            "DATABASE_URL": database_url,
            "OBJECT_STORE_URL": f"s3://{BUCKET}",
            "S3_ENDPOINT": f"127.0.0.1:{stack.ports['s3']}",
            "S3_REGION": S3_REGION,
        }

    @property
    def gateway_url(self) -> str:
        return self.stack.url

    @property
    def service_urls(self) -> dict[str, str]:
        return {name: self.url(name) for name in SERVICES}

    def url(self, name: str) -> str:
        """A service's URL; the worker's is the first training worker's metrics server."""
        port = self.ports["worker_metrics"] if name == WORKER else self.ports[name]
        return f"http://127.0.0.1:{port}"

    def worker_metrics_urls(self) -> list[str]:
        return self.stack.worker_metrics_urls()

    @property
    def processes(self) -> dict[str, psutil.Process]:
        """Each server's gunicorn master by name, and the first training worker."""
        masters = {
            factory.split(":")[0].removeprefix("services."): master
            for factory, master in self.stack.gunicorn_masters().items()
        }
        workers = self.stack.training_workers()
        return {**masters, **({WORKER: workers[0]} if workers else {})}

    def is_running(self, name: str) -> bool:
        process = self.processes.get(name)
        return process is not None and process.is_running()

    def log_tail(self, name: str, lines: int = 40) -> str:
        """The end of the stack's one log (every process writes to it)."""
        return "\n".join(self.stack.log().splitlines()[-lines:])

    def start(self, name: str, settings: dict[str, Any] | None = None) -> None:
        skip_restart(name)

    def stop(self, name: str) -> None:
        skip_restart(name)

    def stopped(self, name: str) -> None:
        skip_restart(name)

    def restarted_with(self, name: str, settings: dict[str, Any]) -> None:
        skip_restart(name)

    def stop_all(self) -> None:
        """Ctrl-C, as its operator stops it."""
        self.stack.interrupt()
