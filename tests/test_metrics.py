"""Prometheus metrics in one process (apps made here, no PROMETHEUS_MULTIPROC_DIR): request metrics by URL rule, the
services' open /metrics, the gateway's token, the trainer's queue depth and cancellations; and a real gunicorn
server adding up its processes' samples in multiprocess mode.

Counters are shared by every app of a service that the test session makes, so the tests compare before and after.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
import requests
from flask import Flask
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from gateway import create_app as create_gateway
from gateway.routing import route_template
from harness.processes import GUNICORN_CONFIG, free_port
from services.projects import create_app as create_projects
from shared.app import create_base_app
from shared.config import REPO_ROOT
from shared.metrics import MULTIPROCESS_DIR_VARIABLE, UNMATCHED_ROUTE
from tests.conftest import TEST_SECRET, internal_token_headers
from tests.trainer_fixtures import sales_frame

METRICS_TOKEN = TEST_SECRET + "-metrics"
PROJECT = "/api/v1/projects/<int(max=2147483647):project_id>"


def sample(name: str, **labels: str) -> float:
    """This process's value of a sample (0 before it was ever counted)."""
    return REGISTRY.get_sample_value(name, labels) or 0.0


def scraped(text: str, name: str, **labels: str) -> float | None:
    """A sample's value in a /metrics answer, or None when it is not there."""
    for family in text_string_to_metric_families(text):
        for found in family.samples:
            if found.name == name and found.labels == labels:
                return found.value
    return None


@pytest.fixture(scope="module")
def probe_app() -> Flask:
    """A bare app of a service named "probe" with one route taking an id."""
    app = create_base_app("probe", __name__, {"LOG_LEVEL": "WARNING"})

    @app.get("/things/<int:thing_id>")
    def thing(thing_id: int):
        return {"id": thing_id}

    return app


def test_requests_are_counted_by_method_url_rule_and_status(probe_app):
    client = probe_app.test_client()
    found = {"method": "GET", "route": "/things/<int:thing_id>", "status": "200"}
    missing = {"method": "GET", "route": UNMATCHED_ROUTE, "status": "404"}
    made_up = {"method": "other", "route": UNMATCHED_ROUTE, "status": "405"}
    before = {
        "found": sample("probe_http_requests_total", **found),
        "timed": sample("probe_http_request_duration_seconds_count", **found),
        "missing": sample("probe_http_requests_total", **missing),
        "made up": sample("probe_http_requests_total", **made_up),
    }
    for thing_id in (1, 2, 3):
        assert client.get(f"/things/{thing_id}").status_code == 200
    assert client.get("/no/such/path/4711").status_code == 404
    assert client.open("/things/1", method="BREW").status_code == 405

    assert sample("probe_http_requests_total", **found) == before["found"] + 3
    assert sample("probe_http_request_duration_seconds_count", **found) == before["timed"] + 3
    assert sample("probe_http_requests_total", **missing) == before["missing"] + 1
    assert sample("probe_http_requests_total", **made_up) == before["made up"] + 1
    # Labels never carry a path or a method a client made up.
    for family in REGISTRY.collect():
        if family.name == "probe_http_requests":
            assert {s.labels["route"] for s in family.samples} <= {"/things/<int:thing_id>", UNMATCHED_ROUTE}
            assert {s.labels["method"] for s in family.samples} <= {"GET", "other"}


@pytest.mark.parametrize(
    ("path", "template"),
    [
        ("/api/v1/auth/login", "/api/v1/auth/<path:rest>"),
        ("/api/v1/projects/", "/api/v1/projects"),
        ("/api/v1/projects/12", PROJECT),
        ("/api/v1/projects/12/datasets/", f"{PROJECT}/datasets"),
        ("/api/v1/projects/12/datasets/0b7e/preview", f"{PROJECT}/datasets/<path:rest>"),
        ("/api/v1/projects/99/predict", f"{PROJECT}/predict"),
        ("/api/v1/projects/7/models/3/activate", f"{PROJECT}/models/<path:rest>"),
        ("/api/v1/projects/7/no-such-thing", None),
        ("/api/v1/projects/7/../8/predict", None),
        ("/metrics", None),
    ],
)
def test_the_gateway_labels_a_proxied_path_by_its_routing_table_entry(path, template):
    assert route_template(path) == template


def gateway_with(app_config, **overrides):
    return create_gateway({**app_config, **overrides}).test_client()


def test_the_gateway_shows_its_metrics_only_to_the_metrics_token(app_config):
    refusals_before = sample("gateway_http_requests_total", method="GET", route="/metrics", status="404")
    unknown_path = gateway_with(app_config).get("/no-such-page")
    assert unknown_path.status_code == 404
    without_a_token_set = gateway_with(app_config).get("/metrics", headers={"Authorization": "Bearer "})
    assert (without_a_token_set.status_code, without_a_token_set.json) == (404, unknown_path.json)

    gateway = gateway_with(app_config, METRICS_TOKEN=METRICS_TOKEN)
    refused = [
        {},
        {"Authorization": "Bearer wrong-" + METRICS_TOKEN},
        {"Authorization": "Bearer " + METRICS_TOKEN[:-1]},
        {"Authorization": "Basic " + METRICS_TOKEN},
        {"Authorization": METRICS_TOKEN},
    ]
    for headers in refused:
        answer = gateway.get("/metrics", headers=headers)
        assert (answer.status_code, answer.json) == (404, unknown_path.json), headers

    shown = gateway.get("/metrics", headers={"Authorization": "Bearer " + METRICS_TOKEN})
    assert shown.status_code == 200
    assert shown.content_type.startswith("text/plain")
    refusals = scraped(
        shown.get_data(as_text=True), "gateway_http_requests_total", method="GET", route="/metrics", status="404"
    )
    assert refusals == refusals_before + 1 + len(refused)


def test_the_gateway_refuses_a_short_metrics_token(app_config):
    with pytest.raises(RuntimeError, match="METRICS_TOKEN"):
        create_gateway({**app_config, "METRICS_TOKEN": "short"})


def test_a_service_serves_metrics_without_an_internal_token(app_config):
    client = create_projects(app_config).test_client()
    assert client.get("/api/v1/projects/").status_code == 401
    answer = client.get("/metrics")
    assert answer.status_code == 200
    refused = {"method": "GET", "route": "/api/v1/projects/", "status": "401"}
    assert scraped(answer.get_data(as_text=True), "projects_http_requests_total", **refused) == sample(
        "projects_http_requests_total", **refused
    )
    assert sample("projects_http_requests_total", method="GET", route="/metrics", status="200") >= 1


def test_the_trainer_reads_its_queue_depth_when_scraped_and_counts_cancelled_runs(trainer_app, make_project):
    client = trainer_app.test_client()
    project = make_project(sales_frame())
    headers = internal_token_headers(trainer_app.config, "trainer", project.user_id)
    cancelled_before = sample("trainer_training_runs_total", status="cancelled")

    run = client.post(f"/api/v1/projects/{project.project_id}/train", json={}, headers=headers).json
    assert scraped(client.get("/metrics").get_data(as_text=True), "trainer_queued_runs") == 1
    cancel = client.post(f"/api/v1/projects/{project.project_id}/training-runs/{run['id']}/cancel", headers=headers)
    assert cancel.status_code == 202

    assert scraped(client.get("/metrics").get_data(as_text=True), "trainer_queued_runs") == 0
    assert sample("trainer_training_runs_total", status="cancelled") == cancelled_before + 1


# --- multiprocess mode under gunicorn ---------------------------------------------------------------------------------


@pytest.fixture
def gunicorn_gateway(tmp_path: Path) -> Iterator[tuple[str, Path, subprocess.Popen]]:
    """The gateway under gunicorn (one worker, gunicorn.conf.py) with a metrics folder that holds a stale sample file
    of an earlier run; yields its URL, the folder and the master process."""
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    (metrics_dir / "counter_4242424.db").write_bytes(b"an earlier run's samples")
    port = free_port()
    env = {
        **os.environ,
        MULTIPROCESS_DIR_VARIABLE: str(metrics_dir),
        "SALESML_VAR_DIR": str(tmp_path / "var"),
        "SALESML_DEV_MODE": "0",
        "JWT_SECRET_KEY": TEST_SECRET,
        "INTERNAL_TOKEN_SECRET": TEST_SECRET + "-internal",
        "METRICS_TOKEN": METRICS_TOKEN,
        "LOG_LEVEL": "WARNING",
    }
    command = [
        sys.executable, "-m", "gunicorn", "--config", str(GUNICORN_CONFIG), "--bind", f"127.0.0.1:{port}",
        "--workers", "1", "--worker-class", "gthread", "--threads", "2", "--no-control-socket", "gateway:create_app()",
    ]  # fmt: skip
    with (tmp_path / "gunicorn.log").open("wb") as log:
        master = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_health(url, master, tmp_path / "gunicorn.log")
        yield url, metrics_dir, master
    finally:
        master.send_signal(signal.SIGTERM)
        try:
            master.wait(timeout=30)
        except subprocess.TimeoutExpired:
            master.kill()
            master.wait()


def wait_for_health(url: str, master: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 60
    while True:
        assert master.poll() is None, log.read_text()
        try:
            if requests.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.2)


def test_gunicorn_adds_up_every_process_and_starts_from_an_empty_folder(gunicorn_gateway, tmp_path):
    url, metrics_dir, master = gunicorn_gateway
    assert not (metrics_dir / "counter_4242424.db").exists()
    for _ in range(3):
        assert requests.get(f"{url}/health", timeout=5).status_code == 200
    (first_worker,) = psutil.Process(master.pid).children()
    live_gauge = metrics_dir / f"gauge_livesum_{first_worker.pid}.db"
    live_gauge.write_bytes(b"")

    # The worker that answered dies; gunicorn reaps it (child_exit) and starts another, which answers from now on.
    first_worker.kill()
    wait_for_health(url, master, tmp_path / "gunicorn.log")
    assert [child.pid for child in psutil.Process(master.pid).children()] != [first_worker.pid]
    text = requests.get(f"{url}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}, timeout=5).text

    # The dead worker's health checks (the fixture's and three, from its samples in the folder) and the new one's.
    assert scraped(text, "gateway_http_requests_total", method="GET", route="/health", status="200") == 5
    assert not live_gauge.exists(), "child_exit should have dropped the dead worker's live gauges"
