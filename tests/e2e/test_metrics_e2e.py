"""Prometheus metrics of the real platform (gunicorn in multiprocess mode, the worker's own server): a few requests, an
upload, a rejected upload, a training and a prediction through the gateway move the counters with the right labels,
on the gateway's /metrics (with METRICS_TOKEN only) and on each service's and the worker's."""

from __future__ import annotations

import time

import psutil
import pytest
import requests

from harness.data import sales_frame
from harness.processes import SERVICES, WORKER, Platform
from shared.media_types import PARQUET
from tests.helpers.scrape import Scrape
from tests.platform_harness import METRICS_TOKEN, ApiClient
from tests.security.support import (
    FEATURE_ROW,
    MISSING_PROJECT_ID,
    assert_error_shape,
    create_project_with_data,
    new_account,
    start_training,
    wait_for_run,
)

pytestmark = pytest.mark.e2e

PROJECT = "/api/v1/projects/<int(max=2147483647):project_id>"
METRICS_AUTHORIZATION = {"Authorization": f"Bearer {METRICS_TOKEN}"}


def worker_metrics(platform: Platform, url: str, timeout_s: float = 120) -> requests.Response:
    """A training worker's metrics, once its server is up (the harness starts the worker without waiting for it)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return requests.get(url, timeout=10)
        except requests.ConnectionError:
            assert platform.is_running(WORKER), platform.log_tail(WORKER)
            assert time.monotonic() < deadline, platform.log_tail(WORKER)
            time.sleep(0.5)


def scrape_all(platform: Platform) -> dict[str, Scrape]:
    """Every process group's metrics: the gateway's with the token, the services' and the workers' (added up)
    without."""
    answers = {"gateway": requests.get(f"{platform.gateway_url}/metrics", headers=METRICS_AUTHORIZATION, timeout=10)}
    for name in SERVICES:
        answers[name] = requests.get(f"{platform.url(name)}/metrics", timeout=10)
    workers = [worker_metrics(platform, url) for url in platform.worker_metrics_urls()]
    for name, answer in [*answers.items(), *((WORKER, answer) for answer in workers)]:
        assert answer.status_code == 200, (name, answer.status_code, answer.text[:300])
    return {
        **{name: Scrape(answer.text) for name, answer in answers.items()},
        WORKER: Scrape.summed([answer.text for answer in workers]),
    }


def test_the_gateway_metrics_are_an_unknown_path_without_the_token(platform, api):
    unknown = assert_error_shape(api.get("/no-such-page"), 404)
    for headers in ({}, {"Authorization": "Bearer not-the-metrics-token"}, {"Authorization": METRICS_TOKEN}):
        answer = api.get("/metrics", headers=headers)
        assert assert_error_shape(answer, 404) == unknown, headers
    # Users never reach a service's /metrics through the gateway.
    for path in ("/api/v1/metrics", "/api/v1/projects/1/metrics"):
        assert api.get(path, headers=METRICS_AUTHORIZATION).status_code == 404, path

    shown = api.get("/metrics", headers=METRICS_AUTHORIZATION)
    assert shown.status_code == 200
    names = Scrape(shown.text).names()
    assert "gateway_http_requests_total" in names
    assert not {name for name in names if name.startswith(("projects_", "trainer_", "predictor_"))}


def test_requests_an_upload_a_training_and_a_prediction_move_the_counters(platform: Platform, api: ApiClient):
    before = scrape_all(platform)

    owner = new_account(api, "metrics")
    project = create_project_with_data(api, owner, sales_frame(60, seed=3), "metered shop")
    project_id = project["id"]
    not_parquet = api.post(
        f"/api/v1/projects/{project_id}/datasets",
        data=b"these bytes are not a parquet file",
        headers={**owner.headers, "Content-Type": PARQUET},
    )
    assert_error_shape(not_parquet, 422)
    assert_error_shape(api.get(f"/api/v1/projects/{MISSING_PROJECT_ID}", headers=owner.headers), 404)
    run = start_training(api, owner, project_id)
    finished = wait_for_run(api, owner, project_id, run["id"])
    assert finished["status"] == "succeeded", (finished, platform.log_tail(WORKER))
    records = [FEATURE_ROW, {**FEATURE_ROW, "price": 5.5}, {**FEATURE_ROW, "promo": 0}]
    predicted = api.post(f"/api/v1/projects/{project_id}/predict", json={"records": records}, headers=owner.headers)
    assert predicted.status_code == 200, predicted.text
    assert api.post(f"/api/v1/projects/{project_id}/predict", json=FEATURE_ROW, headers=owner.headers).ok

    after = scrape_all(platform)

    def moved(process: str, name: str, **labels: str) -> float:
        return after[process](name, **labels) - before[process](name, **labels)

    # The gateway: proxied requests by the routing-table entry, its own refusals too.
    predict = {"method": "POST", "route": f"{PROJECT}/predict", "status": "200"}
    assert moved("gateway", "gateway_http_requests_total", **predict) == 2
    assert moved("gateway", "gateway_http_request_duration_seconds_count", **predict) == 2
    created = {"method": "POST", "route": "/api/v1/projects", "status": "201"}
    assert moved("gateway", "gateway_http_requests_total", **created) == 1
    rejected = {"method": "POST", "route": f"{PROJECT}/datasets", "status": "422"}
    assert moved("gateway", "gateway_http_requests_total", **rejected) == 1
    missing = {"method": "GET", "route": PROJECT, "status": "404"}
    assert moved("gateway", "gateway_http_requests_total", **missing) == 1
    assert moved("gateway", "gateway_http_requests_total", method="POST", route=f"{PROJECT}/train", status="202") == 1

    # The services: by their own URL rules.
    assert (
        moved("projects", "projects_http_requests_total", method="POST", route="/api/v1/projects/", status="201") == 1
    )
    assert moved("projects", "projects_upload_bytes_count", kind="parquet") == 1
    assert moved("projects", "projects_upload_bytes_sum", kind="parquet") > 0
    assert moved("projects", "projects_upload_rejections_total", reason="invalid_file") == 1
    assert moved("trainer", "trainer_http_requests_total", method="POST", route=f"{PROJECT}/train", status="202") == 1
    assert "trainer_queued_runs" in after["trainer"].names()
    assert moved("predictor", "predictor_http_requests_total", **predict) == 2
    assert moved("predictor", "predictor_predictions_total", format="json") == 2
    assert moved("predictor", "predictor_prediction_rows_count") == 2
    assert moved("predictor", "predictor_prediction_rows_sum") == len(records) + 1
    # Each gunicorn worker of the predictor loads the model once (the harness runs one worker, make stack two).
    serving_workers = len(psutil.Process(platform.processes["predictor"].pid).children())
    misses = moved("predictor", "predictor_model_cache_lookups_total", result="miss")
    assert 1 <= misses <= serving_workers
    assert misses + moved("predictor", "predictor_model_cache_lookups_total", result="hit") >= 2

    # The worker: the run by its final status, its duration, the heartbeats while it trained.
    assert moved(WORKER, "trainer_training_runs_total", status="succeeded") == 1
    assert moved(WORKER, "trainer_training_run_duration_seconds_count", status="succeeded") == 1
    assert moved(WORKER, "trainer_training_run_duration_seconds_sum", status="succeeded") > 0
    assert moved(WORKER, "trainer_worker_heartbeats_total", result="renewed") >= 1

    # No label anywhere holds a path with an id in it.
    for scrape in after.values():
        for _, labels in scrape.values:
            route = dict(labels).get("route", "")
            assert str(project_id) not in route.split("/"), route
