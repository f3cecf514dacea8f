"""``make run`` as a newcomer runs it: the whole platform on the embedded default (a SQLite file and a local folder,
every service a local process), here on free ports and a temporary folder, through register → upload → train →
predict at the gateway; Ctrl-C then stops every process it started."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import psutil
import pytest
import requests

from demo.supplements import expected_sales, generate_supplements_sales
from harness.data import parquet_bytes
from harness.processes import free_port
from shared.config import REPO_ROOT, SETTINGS
from shared.media_types import PARQUET

pytestmark = pytest.mark.e2e

START_TIMEOUT_S = 240
PASSWORD = "newcomer-password"


def platform_environment(var_dir: Path, ports: dict[str, int]) -> dict[str, str]:
    """This machine's environment without any SalesML setting a test run may carry, plus free ports and a fresh
    folder: what ``make run`` sees on a newcomer's machine."""
    names = {setting.name for setting in SETTINGS} | {"TEST_DATABASE_URL"}
    env = {name: value for name, value in os.environ.items() if name not in names and not name.startswith("S3_")}
    return {
        **env,
        "SALESML_VAR_DIR": str(var_dir),
        "GATEWAY_PORT": str(ports["gateway"]),
        "PROJECTS_PORT": str(ports["projects"]),
        "TRAINER_PORT": str(ports["trainer"]),
        "PREDICTOR_PORT": str(ports["predictor"]),
        "WEB_WORKERS": "1",
        "WEB_THREADS": "4",
        "LOG_LEVEL": "WARNING",
    }


def wait_until_ready(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        assert process.poll() is None, f"make run exited with {process.returncode}:\n{log.read_text()[-3000:]}"
        try:
            if requests.get(f"{url}/health/ready", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise AssertionError(f"the gateway was not ready after {START_TIMEOUT_S} s:\n{log.read_text()[-3000:]}")


def test_make_run_serves_the_whole_path_on_sqlite_and_a_local_folder(tmp_path):
    var_dir = tmp_path / "var"
    ports = {name: free_port() for name in ("gateway", "projects", "trainer", "predictor")}
    log = tmp_path / "make-run.log"
    with log.open("wb") as output:
        make = subprocess.Popen(
            ["make", "--no-print-directory", "run"],
            cwd=REPO_ROOT,
            env=platform_environment(var_dir, ports),
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    started = psutil.Process(make.pid)
    processes: list[psutil.Process] = []
    try:
        url = f"http://127.0.0.1:{ports['gateway']}"
        wait_until_ready(url, make, log)
        api = requests.Session()
        base = f"{url}/api/v1"
        assert api.post(f"{base}/auth/register", json={"username": "newcomer", "password": PASSWORD}).status_code == 201
        tokens = api.post(f"{base}/auth/login", json={"username": "newcomer", "password": PASSWORD}).json()
        api.headers["Authorization"] = f"Bearer {tokens['access_token']}"
        project = api.post(f"{base}/projects", json={"name": "Supplements", "target": "sales"}).json()
        uploaded = api.post(
            f"{base}/projects/{project['id']}/datasets",
            data=parquet_bytes(generate_supplements_sales(rows=400, seed=3)),
            headers={"Content-Type": PARQUET},
        )
        assert uploaded.status_code == 201, uploaded.text
        run = api.post(f"{base}/projects/{project['id']}/train", json={"include": ["lr"], "folds": 2}).json()
        deadline = time.monotonic() + 180
        while run["status"] in ("queued", "running"):
            assert time.monotonic() < deadline, run
            time.sleep(0.5)
            run = api.get(f"{base}/projects/{project['id']}/training-runs/{run['id']}").json()
        assert run["status"] == "succeeded", run["error"]
        question = {"product": "Creatina", "price": 150, "promotion": 1, "weekday": "Saturday"}
        answer = api.post(f"{base}/projects/{project['id']}/predict", json=question)
        assert answer.status_code == 200, answer.text
        assert answer.json()["prediction"] == pytest.approx(expected_sales("Creatina", 150, 1, "Saturday"), abs=5)
        assert (var_dir / "salesml.db").is_file()
        assert any((var_dir / "objects").rglob("*.parquet"))
        processes = started.children(recursive=True)
        assert len(processes) >= 5, "gateway, three services and the worker"
    finally:
        os.killpg(make.pid, signal.SIGINT)  # Ctrl-C in the terminal
        make.wait(60)
    _, still_alive = psutil.wait_procs(processes, timeout=30)
    assert still_alive == [], f"make run left {still_alive} running:\n{log.read_text()[-2000:]}"
