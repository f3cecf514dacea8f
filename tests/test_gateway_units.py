"""The gateway's plain parts: routing table, proxy header rules, ownership cache, OpenAPI merge, failure mapping."""

from __future__ import annotations

import socket
import threading
import time

import jwt
import pytest
import urllib3.exceptions

from gateway.openapi import MergedDocument, merge_documents
from gateway.ownership import OwnershipCache
from gateway.routing import PREDICTOR, PROJECTS, TRAINER, Route, resolve
from gateway.upstream import client_response_headers, upstream_request_headers
from shared.domain_errors import UpstreamFailure, UpstreamUnavailable
from shared.errors import SHARED_ERROR_STATUSES, status_of
from shared.internal_auth import (
    InternalCaller,
    InternalTokens,
    VerifiedTokens,
    issue_internal_token,
    verify_internal_token,
)
from shared.service_client import ServiceClient


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/api/v1/auth/register", Route(PROJECTS, needs_access_token=False)),
        ("/api/v1/auth/login/", Route(PROJECTS, needs_access_token=False)),
        ("/api/v1/auth/refresh", Route(PROJECTS, needs_access_token=False, forwards_authorization=True)),
        ("/api/v1/auth/logout", Route(PROJECTS, forwards_authorization=True)),
        ("/api/v1/auth/me", Route(PROJECTS)),
        ("/api/v1/auth/anything/else", Route(PROJECTS)),
        ("/api/v1/projects", Route(PROJECTS, takes_uploads=True)),
        ("/api/v1/projects/", Route(PROJECTS, takes_uploads=True)),
        ("/api/v1/projects/7", Route(PROJECTS, project_id=7, is_the_project=True)),
        ("/api/v1/projects/7/", Route(PROJECTS, project_id=7, is_the_project=True)),
        ("/api/v1/projects/7/datasets", Route(PROJECTS, project_id=7, takes_uploads=True)),
        ("/api/v1/projects/7/datasets/", Route(PROJECTS, project_id=7, takes_uploads=True)),
        ("/api/v1/projects/7/datasets/ab-12/preview/", Route(PROJECTS, project_id=7)),
        ("/api/v1/projects/7/train", Route(TRAINER, project_id=7)),
        ("/api/v1/projects/7/train/", Route(TRAINER, project_id=7)),
        ("/api/v1/projects/7/training-runs/3/cancel", Route(TRAINER, project_id=7)),
        ("/api/v1/projects/7/models", Route(TRAINER, project_id=7)),
        ("/api/v1/projects/7/models/2/activate", Route(TRAINER, project_id=7)),
        ("/api/v1/projects/7/predict", Route(PREDICTOR, project_id=7)),
        ("/api/v1/projects/7/predict/", Route(PREDICTOR, project_id=7)),
    ],
)
def test_routes(path, expected):
    assert resolve(path) == expected


@pytest.mark.parametrize(
    "path",
    [
        "/internal/projects/1",
        "/api/v1/internal/projects/1",
        "/api/v1/auth",
        "/api/v1/projectsx",
        "/api/v1/projects/abc",
        "/api/v1/projects/-1",
        "/api/v1/projects/1.0",
        "/api/v1/projects/٣",  # a digit, but not an ASCII one
        "/api/v1/projects/2147483648",
        "/api/v1/projects/99999999999999999999999",
        "/api/v1/projects/1/train/extra",
        "/api/v1/projects/1/predict/x",
        "/api/v1/projects/1/unknown",
        "/api/v1/projects/1/datasets/../../../../internal/projects/1",
        "/api/v1/projects/1/./datasets",
        "/api/v1/projects//1",
        "/api/v1/auth//me",
        "/api/v2/projects",
        "/health",
    ],
)
def test_paths_that_are_never_routed(path):
    assert resolve(path) is None


def test_request_headers_drop_client_identity_hop_by_hop_and_credentials():
    client = [
        ("Host", "gateway.example"),
        ("Content-Type", "application/json"),
        ("Content-Length", "12"),
        ("Authorization", "Bearer user-token"),
        ("Cookie", "session=1"),
        ("X-User-Id", "1"),
        ("x-user-role", "admin"),
        ("X-Internal-Token", "forged"),
        ("X-Forwarded-User", "1"),
        ("X-Request-ID", "client-chosen-id"),
        ("Connection", "keep-alive, X-Secret-Hop"),
        ("X-Secret-Hop", "1"),
        ("Keep-Alive", "timeout=5"),
        ("Transfer-Encoding", "chunked"),
        ("TE", "trailers"),
        ("Upgrade", "h2c"),
        ("Expect", "100-continue"),
        ("Accept", "application/json"),
        ("Idempotency-Key", "k-1"),
    ]
    added = {"X-Internal-Token": "signed-by-gateway", "X-Request-ID": "gateway-id"}
    assert upstream_request_headers(client, added) == {
        "Content-Type": "application/json",
        "Accept": "application/json",
        "Idempotency-Key": "k-1",
        **added,
    }
    assert upstream_request_headers(client, added, keep_authorization=True)["Authorization"] == "Bearer user-token"


def test_response_headers_drop_hop_by_hop_and_the_upstream_server_identity():
    upstream = [
        ("Content-Type", "application/vnd.apache.parquet"),
        ("Content-Length", "1234"),
        ("Connection", "close, X-Hop"),
        ("X-Hop", "1"),
        ("Transfer-Encoding", "chunked"),
        ("Server", "gunicorn"),
        ("Date", "Mon, 30 Nov 2026 10:00:00 GMT"),
        ("X-Pagination", '{"total": 3}'),
        ("Location", "/api/v1/projects/1/training-runs/2"),
    ]
    assert client_response_headers(upstream) == [
        ("Content-Type", "application/vnd.apache.parquet"),
        ("Content-Length", "1234"),
        ("X-Pagination", '{"total": 3}'),
        ("Location", "/api/v1/projects/1/training-runs/2"),
    ]


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_ownership_cache_keeps_positive_answers_for_a_while_and_forgets_deleted_projects():
    clock = FakeClock()
    cache = OwnershipCache(ttl_seconds=5, clock=clock)
    assert not cache.owns(1, 10)
    cache.remember(1, 10)
    cache.remember(2, 11)
    assert cache.owns(1, 10)
    assert not cache.owns(2, 10)  # another user's project is never answered from the cache
    clock.now += 5
    assert not cache.owns(1, 10)
    cache.remember(1, 10)
    cache.remember(2, 11)
    cache.forget_project(10)
    assert not cache.owns(1, 10)
    assert cache.owns(2, 11)


def test_ownership_cache_stays_bounded():
    clock = FakeClock()
    cache = OwnershipCache(ttl_seconds=5, max_entries=3, clock=clock)
    for project_id in range(10):
        cache.remember(1, project_id)
    assert cache.owns(1, 9)
    assert len(cache._expiry) <= 3


def _document(paths: dict, schemas: dict) -> dict:
    return {"openapi": "3.0.3", "paths": paths, "components": {"schemas": schemas}, "tags": [{"name": "t"}]}


def test_merge_keeps_routed_paths_renames_clashing_components_and_marks_bearer_auth():
    error = {"type": "object", "properties": {"message": {"type": "string"}}}
    ref = {"$ref": "#/components/schemas/Model"}
    projects = _document(
        {
            "/api/v1/auth/login": {"post": {"responses": {"200": {"description": "ok"}}}},
            "/api/v1/auth/me": {"get": {"responses": {"200": {"content": {"application/json": {"schema": ref}}}}}},
            "/api/v1/projects/{project_id}": {"parameters": [], "get": {"responses": {}}},
            "/internal/projects/{project_id}": {"get": {"responses": {}}},
        },
        {"Error": error, "Model": {"type": "object", "title": "user"}},
    )
    trainer = _document(
        {
            "/api/v1/projects/{project_id}/models/{version}": {
                "get": {"responses": {"200": {"content": {"application/json": {"schema": ref}}}}}
            },
            "/api/v1/auth/me": {"delete": {"responses": {}}},  # not the trainer's to serve: dropped
        },
        {"Error": error, "Model": {"type": "object", "title": "model version"}},
    )
    merged = merge_documents({"projects": projects, "trainer": trainer}, [], "SalesML API", "1.0")
    assert sorted(merged["paths"]) == [
        "/api/v1/auth/login",
        "/api/v1/auth/me",
        "/api/v1/projects/{project_id}",
        "/api/v1/projects/{project_id}/models/{version}",
    ]
    assert "delete" not in merged["paths"]["/api/v1/auth/me"]
    schemas = merged["components"]["schemas"]
    assert schemas["Error"] == error
    assert schemas["Model"]["title"] == "user"
    assert schemas["TrainerModel"]["title"] == "model version"
    model_response = merged["paths"]["/api/v1/projects/{project_id}/models/{version}"]["get"]["responses"]["200"]
    assert model_response["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/TrainerModel"}
    me_response = merged["paths"]["/api/v1/auth/me"]["get"]["responses"]["200"]
    assert me_response["content"]["application/json"]["schema"] == ref
    assert merged["paths"]["/api/v1/auth/me"]["get"]["security"] == [{"bearerAuth": []}]
    assert "security" not in merged["paths"]["/api/v1/auth/login"]["post"]
    assert merged["paths"]["/api/v1/projects/{project_id}"]["parameters"] == []
    assert merged["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    assert merged["tags"] == [{"name": "t"}]
    assert "x-missing-services" not in merged


def test_merged_document_serves_what_it_has_when_a_service_is_down():
    clock = FakeClock()
    up = {"projects": True, "trainer": False}
    fetched = []

    def fetch(service: str) -> dict:
        fetched.append(service)
        if not up[service]:
            raise UpstreamUnavailable(f"the {service} service is unavailable")
        return _document({"/api/v1/auth/me": {"get": {"responses": {}}}} if service == "projects" else {}, {})

    document = MergedDocument(["projects", "trainer"], fetch, cache_seconds=60, title="t", version="1", clock=clock)
    partial = document.current()
    assert partial["x-missing-services"] == ["trainer"]
    assert "trainer" in partial["info"]["description"]
    assert "/api/v1/auth/me" in partial["paths"]
    up["trainer"] = True
    assert "x-missing-services" not in document.current()  # a missing part is asked for again at once
    fetched.clear()
    document.current()
    assert fetched == []  # both parts are cached now
    up["projects"] = False
    clock.now += 61
    stale = document.current()
    assert "/api/v1/auth/me" in stale["paths"] and "x-missing-services" not in stale


def test_unreachable_service_is_503_and_a_broken_one_502():
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        closed_port = closed.getsockname()[1]
    with socket.socket() as hangs_up:
        hangs_up.bind(("127.0.0.1", 0))
        hangs_up.listen(1)
        services = ServiceClient(
            {
                "trainer": f"http://127.0.0.1:{closed_port}",
                "predictor": f"http://127.0.0.1:{hangs_up.getsockname()[1]}",
            },
            connect_timeout_s=2,
            read_timeout_s=5,
        )
        with pytest.raises(UpstreamFailure) as refused:
            services.send("trainer", "GET", "/health", {})
        assert (status_of(refused.value, SHARED_ERROR_STATUSES), refused.value.message) == (
            503,
            "the trainer service is unavailable",
        )

        def accept_and_hang_up() -> None:
            connection, _ = hangs_up.accept()
            connection.recv(65536)
            connection.close()

        threading.Thread(target=accept_and_hang_up, daemon=True).start()
        with pytest.raises(UpstreamFailure) as broken:
            services.send("predictor", "GET", "/health", {})
        assert status_of(broken.value, SHARED_ERROR_STATUSES) == 502
        assert isinstance(broken.value.__cause__, urllib3.exceptions.ProtocolError)
    services.close()


def test_an_answer_cut_off_while_read_whole_is_a_502_and_a_stalled_one_504():
    with socket.socket() as service:
        service.bind(("127.0.0.1", 0))
        service.listen(2)
        services = ServiceClient(
            {"predictor": f"http://127.0.0.1:{service.getsockname()[1]}"}, connect_timeout_s=2, read_timeout_s=0.5
        )

        def answer_ten_of_a_hundred_bytes(then_hang_up: bool) -> None:
            connection, _ = service.accept()
            connection.recv(65536)
            connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + b"x" * 10)
            if then_hang_up:
                connection.close()
            else:
                time.sleep(2)

        for then_hang_up, status in ((True, 502), (False, 504)):
            threading.Thread(target=answer_ten_of_a_hundred_bytes, args=(then_hang_up,), daemon=True).start()
            answer = services.send("predictor", "GET", "/x", {}, stream=True)
            with pytest.raises(UpstreamFailure) as failed:
                answer.content()
            answer.close()
            assert status_of(failed.value, SHARED_ERROR_STATUSES) == status
    services.close()


def test_url_keeps_the_path_and_query_as_routed():
    services = ServiceClient({"projects": "http://127.0.0.1:1/"}, connect_timeout_s=1, read_timeout_s=1)
    assert services.url("projects", "/api/v1/projects/1/datasets/a b%", "page=2&x=%2F") == (
        "http://127.0.0.1:1/api/v1/projects/1/datasets/a%20b%25?page=2&x=%2F"
    )


def test_internal_tokens_are_reused_for_half_their_lifetime_per_caller():
    now = [1_000.0]
    tokens = InternalTokens("internal-secret-" * 4, ttl_seconds=60, max_entries=4, clock=lambda: now[0])
    first = tokens.token("predictor", 7, "10.0.0.1")
    assert tokens.token("predictor", 7, "10.0.0.1") == first
    others = {tokens.token("trainer", 7, "10.0.0.1"), tokens.token("predictor", 8, "10.0.0.1")}
    others.add(tokens.token("predictor", 7, "10.0.0.2"))
    assert first not in others and len(others) == 3
    caller = verify_internal_token("internal-secret-" * 4, first, "predictor")
    assert (caller.user_id, caller.client_address) == (7, "10.0.0.1")
    now[0] += 29
    assert tokens.token("predictor", 7, "10.0.0.1") == first
    now[0] += 2  # past half of its 60 s: a new one, so that none is sent with less than half its lifetime left
    assert tokens.token("predictor", 7, "10.0.0.1") != first
    for user_id in range(100):
        tokens.token("projects", user_id)
    assert len(tokens._tokens) <= 4  # bounded, whatever the number of callers


def test_a_verified_internal_token_is_remembered_until_it_expires_and_no_other_string_passes():
    secret = "internal-secret-" * 4
    verified = VerifiedTokens(secret, "predictor", max_entries=2)
    token = issue_internal_token(secret, "predictor", 7, ttl_seconds=2, client_address="10.0.0.1")
    assert verified.caller(token) == InternalCaller(7, "10.0.0.1")
    assert verified.caller(token) == InternalCaller(7, "10.0.0.1")
    head, payload, signature = token.split(".")
    for forged in (f"{head}.{payload}.{signature[:-2]}AA", issue_internal_token("another-secret-" * 4, "predictor", 7)):
        with pytest.raises(jwt.InvalidTokenError):
            verified.caller(forged)
    with pytest.raises(jwt.InvalidTokenError):
        verified.caller(issue_internal_token(secret, "trainer", 7))  # addressed to another service
    time.sleep(2.1)  # remembered, but expired: refused as it would be if it were new
    with pytest.raises(jwt.InvalidTokenError):
        verified.caller(token)
    for user_id in range(10):
        verified.caller(issue_internal_token(secret, "predictor", user_id))
    assert len(verified._verified) <= 2


class _Upstream:
    """A connection to a service whose answer has already arrived (its socket is readable)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock


def test_a_body_sent_whole_is_not_stopped_early_when_the_service_answers_at_once():
    import io

    from gateway.upstream import StreamedBody

    def send_on(body: StreamedBody, upstream: socket.socket) -> bytes:
        """What a body sends while the service answers as soon as it has ``body.len`` bytes (or at once)."""
        body.sending_on(_Upstream(upstream))
        sent = b""
        for chunk in body:
            sent += chunk
            if len(sent) == body.len:
                service.sendall(b"HTTP/1.1 200 OK\r\n")
        return sent

    service, gateway_side = socket.socketpair()
    with service, gateway_side:
        whole = StreamedBody(io.BytesIO(b"x" * 10), 10, chunk_bytes=4, max_bytes=100, idle_s=1)
        assert send_on(whole, gateway_side) == b"x" * 10
        assert not whole.stopped_early  # so its connection carries the next request

        service.sendall(b"HTTP/1.1 413 Payload Too Large\r\n")  # answered before the body: stop sending it
        unknown_length = StreamedBody(io.BytesIO(b"x" * 10), None, chunk_bytes=4, max_bytes=100, idle_s=1)
        assert send_on(unknown_length, gateway_side) == b"" and unknown_length.stopped_early


def test_a_body_ending_before_its_declared_length_is_refused_not_sent_on_shorter():
    import io

    from gateway.upstream import BodyCutShort, StreamedBody

    for chunk_bytes in (4, 64):
        body = StreamedBody(io.BytesIO(b"x" * 10), 12, chunk_bytes=chunk_bytes, max_bytes=100, idle_s=1)
        with pytest.raises(BodyCutShort, match="12 bytes"):
            b"".join(body)
    assert b"".join(StreamedBody(io.BytesIO(b"x" * 10), None, chunk_bytes=4, max_bytes=100, idle_s=1)) == b"x" * 10


def test_a_connection_rested_longer_than_the_reuse_limit_is_opened_anew():
    """Reused just as the service's keep-alive ran out, a connection would fail its request: it is not reused."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    connections: list[tuple[str, int]] = []

    class KeepsAlive(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            super().setup()
            connections.append(self.client_address)

        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), KeepsAlive)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        services = ServiceClient(
            {"projects": f"http://127.0.0.1:{server.server_address[1]}"},
            connect_timeout_s=2,
            read_timeout_s=2,
            max_idle_reuse_s=0.3,
        )
        for _ in range(3):
            assert services.send("projects", "GET", "/health", {}).status_code == 200
        assert len(connections) == 1  # kept alive between calls in quick succession
        time.sleep(0.5)
        assert services.send("projects", "GET", "/health", {}).status_code == 200
        assert len(connections) == 2
        services.close()
    finally:
        server.shutdown()
        server.server_close()
