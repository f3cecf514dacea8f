"""Object-level authorization (OWASP API1): every public route that names a project, dataset, run or model, called by
user B on user A's objects, answers 404 exactly like a missing id, and A's data stays as it was.

The routes come from the gateway's merged OpenAPI document, so a new route without an example request below fails
``test_every_route_with_an_object_id_has_an_example_request`` until it joins the matrix.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from harness.data import parquet_bytes, sales_frame
from harness.processes import Platform
from tests.platform_harness import ApiClient
from tests.security.support import (
    FEATURE_ROW,
    MISSING_PROJECT_ID,
    PARQUET,
    TINY_TRAINING,
    Account,
    TrainedProject,
    assert_error_shape,
    bucket_keys,
    create_project_with_data,
    new_account,
    start_training,
)

pytestmark = pytest.mark.e2e

OBJECT_ID_PARAMETERS = {"project_id", "dataset_id", "run_id", "version", "report_id"}
METHODS = ("get", "put", "post", "patch", "delete")
MISSING_NUMBER = 2_000_000_001
UPLOAD = {"data": parquet_bytes(sales_frame(30, seed=7)), "headers": {"Content-Type": PARQUET}}
WHAT_IF = {"base": FEATURE_ROW, "vary": [{"column": "price", "values": [3, 6]}], "revenue_of": "price"}
ACTUALS = {"records": [{**FEATURE_ROW, "sales": 40.0}, {**FEATURE_ROW, "price": 6.0, "sales": 35.0}]}

# One request per (method, documented path) that would succeed for the objects' owner, so a 404 here means the
# authorization refused it, not a malformed request.
EXAMPLE_REQUESTS: dict[tuple[str, str], dict[str, Any]] = {
    ("GET", "/api/v1/projects/{project_id}"): {},
    ("PATCH", "/api/v1/projects/{project_id}"): {"json": {"name": "taken over", "target": "price"}},
    ("DELETE", "/api/v1/projects/{project_id}"): {},
    ("GET", "/api/v1/projects/{project_id}/datasets/"): {},
    ("POST", "/api/v1/projects/{project_id}/datasets/"): UPLOAD,
    ("GET", "/api/v1/projects/{project_id}/datasets/{dataset_id}"): {},
    ("DELETE", "/api/v1/projects/{project_id}/datasets/{dataset_id}"): {},
    ("GET", "/api/v1/projects/{project_id}/datasets/{dataset_id}/preview"): {"params": {"limit": 5}},
    ("GET", "/api/v1/projects/{project_id}/datasets/{dataset_id}/download"): {},
    ("POST", "/api/v1/projects/{project_id}/train"): {"json": TINY_TRAINING},
    ("GET", "/api/v1/projects/{project_id}/training-runs"): {},
    ("GET", "/api/v1/projects/{project_id}/training-runs/{run_id}"): {},
    ("POST", "/api/v1/projects/{project_id}/training-runs/{run_id}/cancel"): {},
    ("GET", "/api/v1/projects/{project_id}/models"): {},
    ("GET", "/api/v1/projects/{project_id}/models/{version}"): {},
    ("POST", "/api/v1/projects/{project_id}/models/{version}/activate"): {},
    ("GET", "/api/v1/projects/{project_id}/models/{version}/holdout"): {},
    ("POST", "/api/v1/projects/{project_id}/predict"): {"json": FEATURE_ROW},
    ("POST", "/api/v1/projects/{project_id}/what-if"): {"json": WHAT_IF},
    # A's model is a regression model: A would get 409 here, B must get the 404 of a missing project.
    ("POST", "/api/v1/projects/{project_id}/forecast"): {"json": {"horizon": 2}},
    ("GET", "/api/v1/projects/{project_id}/models/{version}/backtest"): {},
    ("POST", "/api/v1/projects/{project_id}/actuals"): {"json": ACTUALS},
    ("GET", "/api/v1/projects/{project_id}/actuals"): {},
    ("GET", "/api/v1/projects/{project_id}/actuals/{report_id}"): {},
}


def path_parameters(path: str) -> set[str]:
    return set(re.findall(r"\{([^}/]+)\}", path))


def routes_with_object_ids(document: dict[str, Any]) -> set[tuple[str, str]]:
    return {
        (method.upper(), path)
        for path, item in document["paths"].items()
        if path_parameters(path) & OBJECT_ID_PARAMETERS
        for method in METHODS
        if method in item
    }


@dataclass
class Victim:
    """A's objects: the trained project and a queued (cancellable) run, while no worker runs."""

    trained: TrainedProject
    queued_run_id: int
    report_id: int

    @property
    def owner(self) -> Account:
        return self.trained.owner

    def ids(self, route: tuple[str, str]) -> dict[str, Any]:
        run_id = self.queued_run_id if route[1].endswith("/cancel") else self.trained.run_id
        return {
            "project_id": self.trained.project_id,
            "dataset_id": self.trained.dataset_id,
            "run_id": run_id,
            "version": self.trained.model_version,
            "report_id": self.report_id,
        }


@pytest.fixture(scope="module")
def openapi_document(session_api: ApiClient) -> dict[str, Any]:
    answer = session_api.get("/api/v1/openapi.json")
    assert answer.status_code == 200
    document = answer.json()
    assert "x-missing-services" not in document, document["x-missing-services"]
    return document


@pytest.fixture(scope="module")
def victim(platform: Platform, session_api: ApiClient, trained_project: TrainedProject) -> Iterator[Victim]:
    # Without a worker the queued run stays queued, so every view of A's objects is stable for the comparison.
    platform.stop("worker")
    queued = start_training(session_api, trained_project.owner, trained_project.project_id)
    actuals = f"/api/v1/projects/{trained_project.project_id}/actuals"
    report = session_api.post(actuals, json=ACTUALS, headers=trained_project.owner.headers)
    assert report.status_code == 201, report.text
    try:
        yield Victim(trained_project, queued["id"], report.json()["id"])
    finally:
        cancel = f"/api/v1/projects/{trained_project.project_id}/training-runs/{queued['id']}/cancel"
        session_api.post(cancel, headers=trained_project.owner.headers)
        platform.start("worker")


@pytest.fixture(scope="module")
def intruder(session_api: ApiClient) -> tuple[Account, int]:
    """B, with a project and a dataset of their own."""
    account = new_account(session_api, "intruder")
    project = create_project_with_data(session_api, account, sales_frame(30, seed=3), "intruder's shop")
    return account, project["id"]


def call(api: ApiClient, account: Account, route: tuple[str, str], ids: dict[str, Any]):
    method, template = route
    example = EXAMPLE_REQUESTS[route]
    headers = {**account.headers, **example.get("headers", {})}
    kwargs = {key: value for key, value in example.items() if key != "headers"}
    return api.request(method, template.format(**ids), headers=headers, **kwargs)


def owner_view(api: ApiClient, platform: Platform, victim: Victim) -> dict[str, Any]:
    """Everything A can read about the objects, A's prediction, and the objects in the bucket."""
    base = f"/api/v1/projects/{victim.trained.project_id}"
    headers = victim.owner.headers
    reads = [
        "/api/v1/projects",
        base,
        f"{base}/datasets",
        f"{base}/datasets/{victim.trained.dataset_id}",
        f"{base}/datasets/{victim.trained.dataset_id}/preview?limit=5",
        f"{base}/training-runs",
        f"{base}/training-runs/{victim.trained.run_id}",
        f"{base}/training-runs/{victim.queued_run_id}",
        f"{base}/models",
        f"{base}/models/{victim.trained.model_version}",
        f"{base}/actuals",
        f"{base}/actuals/{victim.report_id}",
    ]
    view: dict[str, Any] = {}
    for path in reads:
        answer = api.get(path, headers=headers)
        assert answer.status_code == 200, (path, answer.text)
        view[path] = answer.json()
    predicted = api.post(f"{base}/predict", json=FEATURE_ROW, headers=headers)
    assert predicted.status_code == 200, predicted.text
    view["predict"] = predicted.json()
    view["bucket"] = bucket_keys(platform, f"projects/{victim.trained.project_id}/")
    return view


def test_every_route_with_an_object_id_has_an_example_request(openapi_document):
    documented = routes_with_object_ids(openapi_document)
    missing = sorted(documented - set(EXAMPLE_REQUESTS))
    assert not missing, f"new routes take an object id: add them to EXAMPLE_REQUESTS so B is tried on A's: {missing}"
    stale = sorted(set(EXAMPLE_REQUESTS) - documented)
    assert not stale, f"EXAMPLE_REQUESTS names routes the API no longer documents: {stale}"


def test_another_users_objects_answer_exactly_like_missing_ones(session_api, platform, victim, intruder):
    b, _ = intruder
    before = owner_view(session_api, platform, victim)
    # Deletions last: had one of them gone through, the other routes would still be tried on intact objects.
    routes = sorted(EXAMPLE_REQUESTS, key=lambda route: (route[0] == "DELETE", route))
    for route in routes:
        ids = victim.ids(route)
        foreign = call(session_api, b, route, ids)
        missing = call(session_api, b, route, {**ids, "project_id": MISSING_PROJECT_ID})
        assert_error_shape(foreign, 404)
        assert_error_shape(missing, 404)
        assert foreign.json() == missing.json(), (route, foreign.json(), missing.json())
        assert foreign.headers.get("Content-Length") == missing.headers.get("Content-Length"), route
    assert owner_view(session_api, platform, victim) == before


def test_mixed_ids_b_project_with_a_objects_are_404_like_missing_ones(session_api, platform, victim, intruder):
    b, b_project = intruder
    before = owner_view(session_api, platform, victim)
    missing_ids = {
        "dataset_id": str(uuid.uuid4()),
        "run_id": MISSING_NUMBER,
        "version": MISSING_NUMBER,
        "report_id": MISSING_NUMBER,
    }
    second_id_routes = [route for route in EXAMPLE_REQUESTS if path_parameters(route[1]) - {"project_id"}]
    assert second_id_routes
    for route in sorted(second_id_routes, key=lambda route: (route[0] == "DELETE", route)):
        a_ids = {**victim.ids(route), "project_id": b_project}
        foreign = call(session_api, b, route, a_ids)
        missing = call(session_api, b, route, {**a_ids, **missing_ids})
        assert_error_shape(foreign, 404)
        assert_error_shape(missing, 404)
        assert foreign.json() == missing.json(), (route, foreign.json(), missing.json())

    # An id inside a body: B trains B's project on A's dataset.
    train = f"/api/v1/projects/{b_project}/train"
    a_dataset, no_dataset = victim.trained.dataset_id, str(uuid.uuid4())
    foreign = session_api.post(train, json={**TINY_TRAINING, "dataset_id": a_dataset}, headers=b.headers)
    missing = session_api.post(train, json={**TINY_TRAINING, "dataset_id": no_dataset}, headers=b.headers)
    assert_error_shape(foreign, 404)
    assert foreign.json() == assert_error_shape(missing, 404)
    assert session_api.get(f"{train.removesuffix('/train')}/training-runs", headers=b.headers).json() == []
    # B's own project and dataset still work for B: the 404s above are about A's ids, not a broken project.
    assert session_api.get(f"/api/v1/projects/{b_project}/datasets", headers=b.headers).status_code == 200
    assert owner_view(session_api, platform, victim) == before
