"""The gateway app (Flask test client) in front of the real service apps, each served over HTTP from a thread."""

from __future__ import annotations

import io
import socket
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import pytest

from gateway import create_app as create_gateway
from harness.data import parquet_bytes, sales_frame
from services.predictor import create_app as create_predictor
from services.projects import create_app as create_projects
from services.trainer import create_app as create_trainer
from shared.service_client import ServiceAnswer
from shared.user_tokens import issue_token_pair
from tests.helpers.servers import served

FACTORIES = {"projects": create_projects, "trainer": create_trainer, "predictor": create_predictor}
PASSWORD = "correct-horse-battery"


class AppAfterBind:
    """Lets a server take its port before its app exists: the services' apps need each other's URLs."""

    app = None

    def __call__(self, environ, start_response):
        return self.app(environ, start_response)


@pytest.fixture
def service_urls(app_config: dict[str, Any], tmp_path) -> Iterator[dict[str, str]]:
    slots = {name: AppAfterBind() for name in FACTORIES}
    with ExitStack() as stack:
        urls = {name: stack.enter_context(served(slot)) for name, slot in slots.items()}
        config = {
            **app_config,
            "UPLOAD_TMP_DIR": str(tmp_path / "uploads"),
            **{f"{name.upper()}_URL": url for name, url in urls.items()},
        }
        for name, factory in FACTORIES.items():
            slots[name].app = factory(config)
        yield urls


def gateway_client(app_config: dict[str, Any], service_urls: dict[str, str], **overrides: Any):
    urls = {f"{name.upper()}_URL": url for name, url in service_urls.items()}
    return create_gateway({**app_config, **urls, **overrides}).test_client()


@pytest.fixture
def gateway(app_config, service_urls):
    return gateway_client(app_config, service_urls)


def login(client, username: str) -> dict[str, str]:
    assert client.post("/api/v1/auth/register", json={"username": username, "password": PASSWORD}).status_code == 201
    tokens = client.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD}).json
    return {"Authorization": f"Bearer {tokens['access_token']}"}


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_ready_checks_the_database_and_every_service(app_config, service_urls):
    ready = gateway_client(app_config, service_urls).get("/health/ready")
    assert ready.status_code == 200, ready.json
    assert ready.json["checks"] == {"database": "ok", "projects": "ok", "trainer": "ok", "predictor": "ok"}
    down = gateway_client(app_config, {**service_urls, "predictor": f"http://127.0.0.1:{closed_port()}"})
    assert down.get("/health").status_code == 200
    not_ready = down.get("/health/ready")
    assert not_ready.status_code == 503
    assert not_ready.json["message"] == "not ready: predictor unavailable"
    assert list(not_ready.json["errors"]) == ["predictor"]


def test_a_silent_service_times_out_with_504(app_config, service_urls):
    with socket.socket() as silent:  # accepts connections (the kernel's backlog) and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        client = gateway_client(
            app_config,
            {**service_urls, "trainer": f"http://127.0.0.1:{silent.getsockname()[1]}"},
            UPSTREAM_READ_TIMEOUT_S=0.5,
        )
        headers = login(client, "patient")
        project = client.post("/api/v1/projects", json={"name": "p"}, headers=headers).json
        answer = client.get(f"/api/v1/projects/{project['id']}/models", headers=headers)
    assert answer.status_code == 504
    assert answer.json == {
        "code": 504,
        "status": "Gateway Timeout",
        "message": "the trainer service did not answer in time",
    }


def test_an_upload_may_take_longer_than_the_upstream_read_timeout(app_config, service_urls):
    """The projects service answers an upload only after profiling it: the gateway waits UPLOAD_READ_TIMEOUT_S."""
    headers = login(gateway_client(app_config, service_urls), "uploader")
    # Profiling runs in a fresh interpreter that imports pyarrow: far longer than this read timeout.
    impatient = gateway_client(app_config, service_urls, UPSTREAM_READ_TIMEOUT_S=0.01, UPLOAD_READ_TIMEOUT_S=120)
    created = impatient.post(
        "/api/v1/projects",
        data={"name": "p", "data_file": (io.BytesIO(parquet_bytes(sales_frame())), "sales.parquet")},
        headers=headers,
        content_type="multipart/form-data",
    )
    assert created.status_code == 201, created.json
    assert created.json["latest_dataset"] is not None


def test_a_deleted_project_is_not_served_from_the_ownership_cache(app_config, service_urls):
    client = gateway_client(app_config, service_urls, OWNERSHIP_CACHE_SECONDS=3600)
    owner = login(client, "owner")
    project = client.post("/api/v1/projects", json={"name": "p"}, headers=owner).json
    assert client.get(f"/api/v1/projects/{project['id']}/datasets", headers=owner).status_code == 200
    assert client.delete(f"/api/v1/projects/{project['id']}", headers=owner).status_code == 204
    gone = client.get(f"/api/v1/projects/{project['id']}/datasets", headers=owner)
    assert gone.status_code == 404
    assert gone.json == {"code": 404, "status": "Not Found", "message": "Project not found."}


def test_foreign_and_missing_projects_answer_alike(gateway):
    owner = login(gateway, "first")
    project = gateway.post("/api/v1/projects", json={"name": "p"}, headers=owner).json
    other = login(gateway, "second")
    for method in ("GET", "PATCH", "DELETE"):
        foreign = gateway.open(f"/api/v1/projects/{project['id']}", method=method, json={}, headers=other)
        missing = gateway.open("/api/v1/projects/123456", method=method, json={}, headers=other)
        assert foreign.status_code == missing.status_code == 404
        assert foreign.json == missing.json
    for suffix in ("/train", "/predict", "/training-runs/1/cancel", "/models/1/activate"):
        assert gateway.post(f"/api/v1/projects/{project['id']}{suffix}", json={}, headers=other).status_code == 404
    assert gateway.get(f"/api/v1/projects/{project['id']}", headers=owner).json["name"] == "p"


def test_responses_pass_through_with_their_headers_and_the_request_id(gateway):
    headers = login(gateway, "lister")
    for name in ("a", "b", "c"):
        gateway.post("/api/v1/projects", json={"name": name}, headers=headers)
    listed = gateway.get(
        "/api/v1/projects/?page=1&page_size=2", headers={**headers, "X-Request-ID": "client-request-0001"}
    )
    assert listed.status_code == 200
    assert [project["name"] for project in listed.json] == ["c", "b"]
    assert "X-Pagination" in listed.headers
    assert listed.headers["X-Request-ID"] == "client-request-0001"
    assert "Server" not in listed.headers or "gunicorn" not in listed.headers["Server"]
    head = gateway.head("/api/v1/projects", headers=headers)
    assert head.status_code == 200
    assert head.data == b""


def test_bodies_over_the_json_cap_reach_the_service_that_caps_them(gateway, app_config):
    headers = login(gateway, "bigbody")
    project = gateway.post("/api/v1/projects", json={"name": "p"}, headers=headers).json
    body = b"\0" * (app_config.get("MAX_JSON_BYTES", 2 * 1024 * 1024) + 1024 * 1024)
    answer = gateway.post(
        f"/api/v1/projects/{project['id']}/predict",
        data=body,
        headers={**headers, "Content-Type": "application/vnd.apache.parquet"},
    )
    assert answer.status_code == 409, answer.json  # the predictor's "no model yet", not a 413 from the gateway


def test_answers_longer_than_a_chunk_stream_and_shorter_ones_are_read_whole_alike(
    app_config, service_urls, monkeypatch
):
    whole_reader = gateway_client(app_config, service_urls)
    streamer = gateway_client(app_config, service_urls, PROXY_CHUNK_BYTES=256)
    headers = login(whole_reader, "chunks")
    for name in ("a", "b", "c"):
        whole_reader.post("/api/v1/projects", json={"name": name, "description": "d" * 200}, headers=headers)
    streamed = []
    chunks = ServiceAnswer.chunks
    monkeypatch.setattr(ServiceAnswer, "chunks", lambda answer, size: streamed.append(size) or chunks(answer, size))
    answers = []
    for client in (whole_reader, streamer):
        answers.append(client.get("/api/v1/projects", headers=headers))
        answers[-1].get_data()  # a streamed body is read here
    assert streamed == [256]  # the first answer was read whole
    assert len(answers[0].data) > 256
    assert answers[0].data == answers[1].data
    for answer in answers:
        assert answer.status_code == 200
        assert int(answer.headers["Content-Length"]) == len(answer.data)
        assert answer.headers["Content-Type"] == "application/json"


def test_openapi_document_says_which_service_is_missing(app_config, service_urls):
    client = gateway_client(app_config, {**service_urls, "trainer": f"http://127.0.0.1:{closed_port()}"})
    document = client.get("/api/v1/openapi.json")
    assert document.status_code == 200
    assert document.json["x-missing-services"] == ["trainer"]
    assert "/api/v1/auth/login" in document.json["paths"]
    assert not any("/training-runs" in path for path in document.json["paths"])


def test_database_down_is_a_503_for_token_checks_and_readiness(app_config, service_urls):
    app = create_gateway(
        {
            **app_config,
            **{f"{name.upper()}_URL": url for name, url in service_urls.items()},
            "DATABASE_URL": f"postgresql+psycopg2://postgres@127.0.0.1:{closed_port()}/nothing",
        }
    )
    with app.app_context():
        token, _ = issue_token_pair(1)
    client = app.test_client()
    answer = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 503
    assert answer.json["message"] == "The database is unavailable; retry shortly."
    assert list(client.get("/health/ready").json["errors"]) == ["database"]
    assert client.get("/health").status_code == 200
