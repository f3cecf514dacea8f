"""The platform's processes on this machine: every service under gunicorn, the trainer worker and the gateway on free
127.0.0.1 ports, each in its own process group, started, waited for and stopped one by one. Each gunicorn server
keeps its metrics samples in ``<log_dir>/metrics/<name>``.

The end-to-end tests (``tests/platform_harness.py``) and the benchmark (``bench/platform.py``) both run the platform
this way. Every process logs to ``<log_dir>/<name>.log``; ``Platform.log_tail(name)`` shows the end of one.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests

from shared.config import REPO_ROOT
from shared.metrics import MULTIPROCESS_DIR_VARIABLE

SERVICES = ("projects", "trainer", "predictor")
APP_FACTORIES = {
    "projects": "services.projects:create_app()",
    "trainer": "services.trainer:create_app()",
    "predictor": "services.predictor:create_app()",
    "gateway": "gateway:create_app()",
}
# Every gunicorn server of ours takes its request limits and bind check from this file.
GUNICORN_CONFIG = REPO_ROOT / "gunicorn.conf.py"
WORKER = "worker"
WORKER_MODULE = "services.trainer.worker"
START_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 20.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def free_ports_in_a_row(count: int) -> int:
    """The first of ``count`` consecutive ports free on 127.0.0.1 (for a script that numbers its processes' ports)."""
    while True:
        first = free_port()
        probes = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(count - 1)]
        try:
            for offset, probe in enumerate(probes, start=1):
                probe.bind(("127.0.0.1", first + offset))
            return first
        except OSError:
            continue
        finally:
            for probe in probes:
                probe.close()


def env_value(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


class Platform:
    """The running processes: ``gateway_url``, ``service_urls``, the ``env`` they got, and stop/start of one."""

    def __init__(self, env: dict[str, str], ports: dict[str, int], log_dir: Path, with_worker: bool) -> None:
        self.env = env
        self.ports = ports
        self.log_dir = log_dir
        self.names = [*SERVICES, *([WORKER] if with_worker else []), "gateway"]
        self.processes: dict[str, subprocess.Popen] = {}

    @property
    def gateway_url(self) -> str:
        return self.url("gateway")

    @property
    def service_urls(self) -> dict[str, str]:
        return {name: self.url(name) for name in SERVICES}

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    def worker_metrics_urls(self) -> list[str]:
        """Where each training worker serves its Prometheus metrics (this platform has one)."""
        return [f"{self.url(WORKER)}/metrics"]

    def command(self, name: str) -> list[str]:
        if name == WORKER:
            return [sys.executable, "-m", WORKER_MODULE]
        return [
            sys.executable, "-m", "gunicorn",
            "--config", str(GUNICORN_CONFIG),
            "--bind", f"127.0.0.1:{self.ports[name]}",
            "--worker-class", "gthread", "--workers", "1", "--threads", "4",
            "--timeout", "120", "--graceful-timeout", "5", "--no-control-socket",
            APP_FACTORIES[name],
        ]  # fmt: skip

    def start(self, name: str, settings: dict[str, Any] | None = None) -> None:
        """Start one process (with ``settings`` over the platform's) and wait until it is ready (``/health/ready``
        answers 200; the worker: still alive)."""
        if self.is_running(name):
            return
        env = {**self.env, **{key: env_value(value) for key, value in (settings or {}).items()}}
        if name in APP_FACTORIES:
            # Each server's own folder of metrics samples (gunicorn.conf.py empties it at start).
            env[MULTIPROCESS_DIR_VARIABLE] = str(self.log_dir / "metrics" / name)
        log = open(self.log_dir / f"{name}.log", "ab")  # the child writes to it until it stops
        try:
            self.processes[name] = subprocess.Popen(
                self.command(name),
                cwd=REPO_ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stop() ends gunicorn's workers and any children
            )
        finally:
            log.close()
        if name != WORKER:
            self.wait_ready(name)

    def wait_ready(self, name: str, timeout_s: float = START_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout_s
        last = "no answer yet"
        while time.monotonic() < deadline:
            process = self.processes.get(name)
            if process is not None and process.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.returncode}:\n{self.log_tail(name)}")
            try:
                answer = requests.get(f"{self.url(name)}/health/ready", timeout=5)
                if answer.status_code == 200:
                    return
                last = f"{answer.status_code} {answer.text[:300]}"
            except requests.RequestException as exc:
                last = str(exc)
            time.sleep(0.2)
        raise RuntimeError(f"{name} not ready after {timeout_s}s ({last}):\n{self.log_tail(name)}")

    def is_running(self, name: str) -> bool:
        process = self.processes.get(name)
        return process is not None and process.poll() is None

    def stop(self, name: str) -> None:
        """Stop one process and everything it started (SIGTERM, then SIGKILL if it lingers)."""
        process = self.processes.pop(name, None)
        if process is None:
            return
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(process.pid, sig)
            except ProcessLookupError:
                break
            try:
                process.wait(timeout=STOP_TIMEOUT_S)
                break
            except subprocess.TimeoutExpired:
                continue
        # Workers or training processes left in the group once the leader is gone.
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    @contextmanager
    def stopped(self, name: str) -> Iterator[None]:
        """``name`` is down inside the block and running (and ready) again after it."""
        self.stop(name)
        try:
            yield
        finally:
            self.start(name)

    @contextmanager
    def restarted_with(self, name: str, settings: dict[str, Any]) -> Iterator[None]:
        """``name`` runs with ``settings`` inside the block, and as before after it."""
        self.stop(name)
        try:
            self.start(name, settings)
            yield
        finally:
            self.stop(name)
            self.start(name)

    def start_all(self) -> None:
        for name in self.names:
            self.start(name)

    def stop_all(self) -> None:
        for name in reversed(list(self.processes)):
            self.stop(name)

    def log_tail(self, name: str, lines: int = 40) -> str:
        path = self.log_dir / f"{name}.log"
        if not path.exists():
            return "(no log)"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def platform_env(database_url: str, run_dir: Path, ports: dict[str, int], settings: dict[str, Any]) -> dict[str, str]:
    """The environment of every platform process: this database, folders under ``run_dir``, the services on
    ``ports`` (not dev mode), then ``settings`` (object store, secrets, limits)."""
    common: dict[str, Any] = {
        "SALESML_DEV_MODE": False,
        "SALESML_VAR_DIR": run_dir / "var",
        "UPLOAD_TMP_DIR": run_dir / "uploads",
        "DATABASE_URL": database_url,
        **{f"{name.upper()}_URL": f"http://127.0.0.1:{ports[name]}" for name in SERVICES},
        **settings,
    }
    return {**os.environ, "PYTHONUNBUFFERED": "1", **{key: env_value(value) for key, value in common.items()}}
