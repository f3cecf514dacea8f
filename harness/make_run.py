"""``make run`` started as a newcomer starts it: the whole platform on the embedded default (a SQLite file and a
local folder, every service a local process, dev mode's own secrets), here on free ports and a folder of the
caller's, with none of the SalesML settings the calling process may carry. ``make_target`` starts another target
the same way (``harness/make_stack.py``)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil
import requests

from harness.processes import free_port
from shared.config import REPO_ROOT, SECRET_SETTINGS, SETTINGS

START_TIMEOUT_S = 240
PLATFORM_PORTS = ("gateway", "projects", "trainer", "predictor")
STOP_TIMEOUT_S = 60


@dataclass
class MakeRun:
    """A running ``make run``: the gateway's URL, its var folder, the log of everything it printed, its ports."""

    url: str
    var_dir: Path
    log_path: Path
    process: subprocess.Popen
    ports: dict[str, int]

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def processes(self) -> list[psutil.Process]:
        """Every process it started (gunicorn masters and workers, the training worker and its spare process)."""
        return psutil.Process(self.process.pid).children(recursive=True)

    def interrupt(self) -> list[psutil.Process]:
        """Ctrl-C in its terminal; the processes still alive once it has exited (none, when it stops cleanly)."""
        started = self.processes() if self.process.poll() is None else []
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)
            try:
                self.process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        _, still_alive = psutil.wait_procs(started, timeout=30)
        return still_alive


def newcomer_environment(var_dir: Path, ports: dict[str, int], log_level: str) -> dict[str, str]:
    """This machine's environment without any SalesML setting (a test run carries some), plus free ports
    (``<NAME>_PORT``) and a fresh var folder: what ``make run`` sees on a newcomer's machine."""
    names = {setting.name for setting in SETTINGS} | set(SECRET_SETTINGS) | {"TEST_DATABASE_URL", "SALESML_VAR_DIR"}
    env = {name: value for name, value in os.environ.items() if name not in names and not name.startswith("S3_")}
    return {
        **env,
        "SALESML_VAR_DIR": str(var_dir),
        **{f"{name.upper()}_PORT": str(port) for name, port in ports.items()},
        "LOG_LEVEL": log_level,
    }


@contextmanager
def make_target(
    target: str,
    folder: Path,
    ports: dict[str, int],
    settings: dict[str, str],
    log_level: str,
    running_as: type[MakeRun] = MakeRun,
) -> Iterator[MakeRun]:
    """``make <target>`` in a newcomer's environment with ``ports`` and ``settings``, its var folder and log in
    ``folder``, ready (the gateway's ``/health/ready`` 200) when yielded as ``running_as``, stopped with Ctrl-C at the
    end."""
    log_path = folder / f"make-{target}.log"
    with log_path.open("wb") as output:
        process = subprocess.Popen(
            ["make", "--no-print-directory", target],
            cwd=REPO_ROOT,
            env={**newcomer_environment(folder / "var", ports, log_level), **settings},
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    running = running_as(f"http://127.0.0.1:{ports['gateway']}", folder / "var", log_path, process, ports)
    try:
        _wait_until_ready(target, running)
        yield running
    finally:
        running.interrupt()


@contextmanager
def make_run(folder: Path, log_level: str = "WARNING") -> Iterator[MakeRun]:
    """``make run`` on free ports with its var folder and log in ``folder``, one small gunicorn worker a service."""
    ports = {name: free_port() for name in (*PLATFORM_PORTS, "worker_metrics")}
    with make_target("run", folder, ports, {"WEB_WORKERS": "1", "WEB_THREADS": "4"}, log_level) as running:
        yield running


def _wait_until_ready(target: str, running: MakeRun) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if running.process.poll() is not None:
            raise RuntimeError(f"make {target} exited with {running.process.returncode}:\n{running.log()[-3000:]}")
        try:
            if requests.get(f"{running.url}/health/ready", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"the gateway was not ready after {START_TIMEOUT_S} s:\n{running.log()[-3000:]}")
