"""The platform under benchmark: a throwaway PostgreSQL database, a file:// object store, and every service under
gunicorn sized as ``docker/start.sh`` serves it, on free 127.0.0.1 ports.

The process handling (start, wait until ready, stop a whole process group) is ``harness.processes.Platform``; this
adds the production gunicorn sizes, a restart with other settings (batching off, a Dask scheduler for the worker)
and a second training worker.
"""

from __future__ import annotations

import secrets
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psutil

from harness.processes import (
    APP_FACTORIES,
    GUNICORN_CONFIG,
    SERVICES,
    START_TIMEOUT_S,
    WORKER,
    WORKER_MODULE,
    Platform,
    env_value,
    free_port,
    platform_env,
)

# docker/start.sh: GUNICORN_WORKERS (default 2) processes per app, gthread, with these threads per process.
DEFAULT_WORKERS = 2
THREADS = {"gateway": 8, "projects": 8, "trainer": 8, "predictor": 16}
SECOND_WORKER = "worker2"


class BenchPlatform(Platform):
    """The e2e harness's processes with gunicorn sized per service and settings changeable by a restart."""

    def __init__(
        self,
        env: dict[str, str],
        ports: dict[str, int],
        log_dir: Path,
        workers: dict[str, int],
        threads: dict[str, int],
    ) -> None:
        super().__init__(env, ports, log_dir, with_worker=True)
        self.workers = workers
        self.threads = threads

    def command(self, name: str) -> list[str]:
        if name in (WORKER, SECOND_WORKER):
            return [sys.executable, "-m", WORKER_MODULE]
        return [
            sys.executable, "-m", "gunicorn",
            "--config", str(GUNICORN_CONFIG),
            "--bind", f"127.0.0.1:{self.ports[name]}",
            "--worker-class", "gthread",
            "--workers", str(self.workers[name]), "--threads", str(self.threads[name]),
            "--timeout", "300", "--graceful-timeout", "5", "--no-control-socket",
            APP_FACTORIES[name],
        ]  # fmt: skip

    def start(self, name: str, **settings: Any) -> None:
        """Start ``name`` (ready when it returns) with ``settings`` added to its environment for this start only."""
        base = self.env
        self.env = {**base, **{key: env_value(value) for key, value in settings.items()}}
        try:
            super().start(name)
        finally:
            self.env = base

    def wait_ready(self, name: str, timeout_s: float = START_TIMEOUT_S) -> None:
        if name != SECOND_WORKER:  # a worker has no port to ask; like the first, it is ready once started
            super().wait_ready(name, timeout_s)

    def restart(self, name: str, **settings: Any) -> None:
        self.stop(name)
        self.start(name, **settings)

    def cpu_seconds(self, name: str) -> float:
        """CPU time used so far by ``name``'s running processes (a gunicorn master and its workers)."""
        leader = psutil.Process(self.processes[name].pid)
        total = 0.0
        for process in (leader, *leader.children(recursive=True)):
            try:
                times = process.cpu_times()
            except psutil.NoSuchProcess:
                continue
            total += times.user + times.system
        return total


@contextmanager
def running_platform(
    database_url: str,
    run_dir: Path,
    predictor_workers: int,
    predictor_threads: int,
    extra_settings: dict[str, str] | None = None,
) -> Iterator[BenchPlatform]:
    """Every service, one training worker and the gateway, on ``database_url`` and objects under ``run_dir``;
    ``extra_settings`` (e.g. ``PREDICT_BATCH_WINDOW_MS``) go to every process."""
    ports = {name: free_port() for name in (*SERVICES, "gateway")}
    settings: dict[str, Any] = {
        "OBJECT_STORE_URL": f"file://{run_dir / 'objects'}",
        "JWT_SECRET_KEY": secrets.token_urlsafe(48),
        "INTERNAL_TOKEN_SECRET": secrets.token_urlsafe(48),
        "MODEL_SIGNING_KEY": secrets.token_urlsafe(48),
        # One token for the whole run, however long the training sections take.
        "ACCESS_TOKEN_MINUTES": 240,
        # The accuracy section queues its three trainings at once for two workers.
        "TRAINING_MAX_ACTIVE_RUNS_PER_USER": 4,
        "LOG_LEVEL": "WARNING",
        **(extra_settings or {}),
    }
    env = platform_env(database_url, run_dir, ports, settings)
    workers = {name: DEFAULT_WORKERS for name in THREADS} | {"predictor": predictor_workers}
    threads = THREADS | {"predictor": predictor_threads}
    platform = BenchPlatform(env, ports, run_dir, workers, threads)
    try:
        platform.start_all()
        yield platform
    finally:
        platform.stop_all()
