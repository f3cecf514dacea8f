"""Bodies that are too large, or that never arrive, against the real gunicorn gateway, over raw sockets.

A declared Content-Length over the route's cap is refused before a byte of the body is read; a client that stops
sending gets a 408 after ``CLIENT_BODY_IDLE_TIMEOUT_S``; a service's early answer (its own cap) reaches the client
while the client is still sending. Before, each of these held a gateway thread for as long as the client liked.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import pytest

from shared.media_types import PARQUET
from tests.platform_harness import Platform
from tests.security.support import new_account

pytestmark = pytest.mark.e2e

IDLE_S = 2.0
# However loaded the machine, an answer that waits for nothing comes well within this.
PROMPT_S = IDLE_S + 8


@pytest.fixture(scope="module")
def gateway(platform: Platform) -> Iterator[tuple[str, int]]:
    """The platform's gateway with a short idle timeout: (host, port)."""
    with platform.restarted_with("gateway", {"CLIENT_BODY_IDLE_TIMEOUT_S": IDLE_S}):
        yield "127.0.0.1", platform.ports["gateway"]


def request_head(method: str, path: str, headers: dict[str, str]) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", *(f"{name}: {value}" for name, value in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def read_answer(connection: socket.socket, timeout_s: float) -> tuple[int, dict[str, str], bytes, float]:
    """(status, headers, body, seconds it took) of the first answer on ``connection``."""
    started = time.monotonic()
    connection.settimeout(timeout_s)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = connection.recv(65536)
        assert chunk, f"connection closed without an answer after {time.monotonic() - started:.1f} s: {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in header_lines)}
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = connection.recv(65536)
        if not chunk:
            break
        body += chunk
    return int(status_line.split()[1]), headers, body[:length], time.monotonic() - started


def assert_json_error(status: int, headers: dict[str, str], body: bytes, code: int) -> dict:
    assert status == code, (status, body[:300])
    assert headers["content-type"].startswith("application/json"), headers
    answer = json.loads(body)
    assert answer["code"] == code and answer["message"]
    return answer


def test_a_login_whose_body_never_arrives_gets_a_408(gateway):
    """The issue's own case: Content-Length 1000, 12 bytes sent, then nothing (before: no answer after 20 s)."""
    with socket.create_connection(gateway) as connection:
        head = request_head(
            "POST", "/api/v1/auth/login", {"Content-Type": "application/json", "Content-Length": "1000"}
        )
        connection.sendall(head + b'{"username":')
        status, headers, body, seconds = read_answer(connection, PROMPT_S)
    assert_json_error(status, headers, body, 408)
    assert IDLE_S * 0.9 <= seconds < PROMPT_S


def test_an_upload_announcing_more_than_the_cap_is_413_before_a_byte_is_read(gateway, platform, api):
    """The issue's other case: an upload announcing 300 MB that sends nothing (before: no answer after 40 s)."""
    user = new_account(api, "announcer")
    project = api.post("/api/v1/projects", json={"name": "big"}, headers=user.headers).json()
    announced = {"Content-Type": PARQUET, "Content-Length": str(300 * 1024 * 1024), **user.headers}
    for path in (f"/api/v1/projects/{project['id']}/datasets", "/api/v1/projects"):
        for content_type in (PARQUET, "multipart/form-data; boundary=x"):
            with socket.create_connection(gateway) as connection:
                connection.sendall(request_head("POST", path, {**announced, "Content-Type": content_type}))
                status, headers, body, seconds = read_answer(connection, PROMPT_S)
            assert_json_error(status, headers, body, 413)
            assert seconds < IDLE_S, "refused at once, not after waiting for the body"
    # Every route has its cap: a JSON route's is MAX_JSON_BYTES, /predict's the predictor's.
    for path, size in (("/api/v1/auth/login", 3 * 1024 * 1024), (f"/api/v1/projects/{project['id']}/predict", 10**9)):
        with socket.create_connection(gateway) as connection:
            connection.sendall(
                request_head("POST", path, {"Content-Type": "application/json", "Content-Length": str(size)})
            )
            assert_json_error(*read_answer(connection, PROMPT_S)[:3], 413)


def test_an_upload_that_stops_halfway_gets_a_408_and_stores_nothing(gateway, api):
    user = new_account(api, "stalled")
    project = api.post("/api/v1/projects", json={"name": "stalled"}, headers=user.headers).json()
    path = f"/api/v1/projects/{project['id']}/datasets"
    with socket.create_connection(gateway) as connection:
        connection.sendall(
            request_head("POST", path, {"Content-Type": PARQUET, "Content-Length": "3000000", **user.headers})
        )
        connection.sendall(b"PAR1" + b"\0" * 500_000)
        status, headers, body, seconds = read_answer(connection, PROMPT_S + 30)
    assert_json_error(status, headers, body, 408)
    assert api.get(path, headers=user.headers).json() == []


def test_a_body_that_ends_before_its_content_length_is_a_400_and_never_taken_as_whole(gateway, api):
    """The client stops sending (its side of the connection shut) part way: small bodies, which the gateway reads
    whole, and large ones, which it streams, are refused alike; before, a small one went on shorter, as complete."""
    user = new_account(api, "cutshort")
    project = api.post("/api/v1/projects", json={"name": "cut"}, headers=user.headers).json()
    datasets = f"/api/v1/projects/{project['id']}/datasets"
    csv_rows = b"price,sales\n" + b"1.5,10\n" * 20_000  # cut at a line end, what was sent is a valid CSV
    for path, content_type, declared, sent in (
        ("/api/v1/auth/login", "application/json", 1000, b'{"username": "a", "password": "b"}'),
        (datasets, "text/csv", 2 * len(csv_rows), csv_rows),
        (datasets, "text/csv", 1000, b"price,sales\n1.5,10\n"),
    ):
        with socket.create_connection(gateway) as connection:
            head = {"Content-Type": content_type, "Content-Length": str(declared), **user.headers}
            connection.sendall(request_head("POST", path, head) + sent)
            connection.shutdown(socket.SHUT_WR)
            status, headers, body, seconds = read_answer(connection, PROMPT_S)
        assert_json_error(status, headers, body, 400)
        assert seconds < IDLE_S, "refused when the body ended, not after the idle timeout"
    assert api.get(datasets, headers=user.headers).json() == []


def test_a_chunked_body_is_cut_at_the_cap(gateway, platform):
    """Without a Content-Length the gateway counts: past the cap it answers 413 and reads no more."""
    cap = int(platform.env.get("MAX_JSON_BYTES", 2 * 1024 * 1024))
    sent = 0
    with socket.create_connection(gateway) as connection:
        head = {"Content-Type": "application/json", "Transfer-Encoding": "chunked"}
        connection.sendall(request_head("POST", "/api/v1/auth/login", head))
        chunk = b"%x\r\n%s\r\n" % (65536, b" " * 65536)
        try:
            while sent < 4 * cap:
                connection.sendall(chunk)
                sent += 65536
        except OSError:  # the gateway closed its side after answering
            pass
        status, headers, body, _ = read_answer(connection, PROMPT_S)
    assert_json_error(status, headers, body, 413)
    assert sent < 4 * cap


def test_a_services_early_413_reaches_the_client_without_waiting_for_the_rest(gateway, platform, api):
    """The projects service's own cap (here smaller than the gateway's, as when the two are configured apart) answers
    413 before reading. The client sends a little, then nothing: the gateway relays the 413 at once, neither waiting
    for the rest of the body nor for the idle timeout."""
    user = new_account(api, "early")
    project = api.post("/api/v1/projects", json={"name": "early"}, headers=user.headers).json()
    path = f"/api/v1/projects/{project['id']}/datasets"
    gateway_cap = int(platform.env["UPLOAD_MAX_BYTES"])
    with platform.restarted_with("projects", {"UPLOAD_MAX_BYTES": 1024 * 1024}):
        with socket.create_connection(gateway) as connection:
            head = {"Content-Type": PARQUET, "Content-Length": str(gateway_cap), **user.headers}
            connection.sendall(request_head("POST", path, head) + b"PAR1" + b"\0" * 128 * 1024)
            status, headers, body, seconds = read_answer(connection, PROMPT_S)
    assert_json_error(status, headers, body, 413)
    assert seconds < IDLE_S, f"{seconds:.1f} s: the answer waited for the client"
