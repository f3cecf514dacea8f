"""``make run`` as a newcomer runs it: the whole platform on the embedded default (a SQLite file and a local folder,
every service a local process), here on free ports and a temporary folder, through register → upload → train →
predict at the gateway; Ctrl-C then stops every process it started."""

from __future__ import annotations

import time

import pytest
import requests

from demo.supplements import expected_sales, generate_supplements_sales
from harness.data import parquet_bytes
from harness.make_run import make_run
from shared.media_types import PARQUET

pytestmark = pytest.mark.e2e

PASSWORD = "newcomer-password"


def test_make_run_serves_the_whole_path_on_sqlite_and_a_local_folder(tmp_path):
    with make_run(tmp_path) as running:
        api = requests.Session()
        base = f"{running.url}/api/v1"
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
        assert (running.var_dir / "salesml.db").is_file()
        assert any((running.var_dir / "objects").rglob("*.parquet"))
        assert len(running.processes()) >= 5, "gateway, three services and the worker"
        still_alive = running.interrupt()  # Ctrl-C in the terminal
    assert still_alive == [], f"make run left {still_alive} running:\n{running.log()[-2000:]}"
