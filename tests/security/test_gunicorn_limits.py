"""gunicorn's request limits are set in one place (gunicorn.conf.py), used wherever gunicorn is started, and hold on
the real gateway: a request over them never reaches an app (gunicorn answers with its own HTML: the one documented
exception to the JSON error shape)."""

from __future__ import annotations

import re
import socket

import pytest

from shared.config import REPO_ROOT
from tests.platform_harness import Platform

GUNICORN_CONFIG = REPO_ROOT / "gunicorn.conf.py"
LIMITS = dict(re.findall(r"^(limit_request_\w+) = (\d+)$", GUNICORN_CONFIG.read_text(), flags=re.MULTILINE))


def test_the_limits_are_chosen_and_every_server_uses_them():
    assert {name: int(value) for name, value in LIMITS.items()} == {
        "limit_request_line": 4094,
        "limit_request_fields": 50,
        "limit_request_field_size": 8190,
    }
    run_local = (REPO_ROOT / "scripts" / "run_local.sh").read_text()
    assert re.search(r"-m gunicorn --config gunicorn\.conf\.py", run_local)
    start = (REPO_ROOT / "docker" / "start.sh").read_text()
    assert '--config "$(dirname "$0")/../gunicorn.conf.py"' in start
    assert "gunicorn.conf.py" in (REPO_ROOT / ".dockerignore").read_text()
    command = Platform({}, {"gateway": 1}, REPO_ROOT, with_worker=False).command("gateway")
    assert command[command.index("--config") + 1] == str(GUNICORN_CONFIG)


def raw_answer(address: tuple[str, int], request: bytes) -> tuple[int, str, bytes]:
    with socket.create_connection(address, timeout=30) as connection:
        connection.sendall(request)
        data = b""
        while chunk := connection.recv(65536):
            data += chunk
            if b"\r\n\r\n" in data and (b"</html>" in data or b"}" in data):
                break
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    content_type = next(
        (line.split(":", 1)[1].strip() for line in lines if line.lower().startswith("content-type")), ""
    )
    return int(lines[0].split()[1]), content_type, body


@pytest.mark.e2e
def test_requests_over_the_limits_never_reach_the_gateway_app(platform):
    address = ("127.0.0.1", platform.ports["gateway"])

    def get(path: str = "/api/v1/auth/me", headers: list[str] | None = None) -> tuple[int, str, bytes]:
        lines = [f"GET {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close", *(headers or [])]
        return raw_answer(address, ("\r\n".join(lines) + "\r\n\r\n").encode())

    # Within the limits the app answers (a 401 in the JSON shape).
    fields = [f"X-Filler-{i}: {i}" for i in range(45)]
    assert get(headers=fields)[:2] == (401, "application/json")
    assert get(headers=["X-Big: " + "a" * 8000])[:2] == (401, "application/json")
    # Over them gunicorn refuses, before the app.
    status, content_type, _ = get(headers=[f"X-Filler-{i}: {i}" for i in range(51)])
    assert (status, content_type) == (431, "text/html")
    status, content_type, _ = get(headers=["X-Big: " + "a" * 8200])
    assert (status, content_type) == (431, "text/html")
    status, content_type, _ = get(path="/api/v1/projects?q=" + "a" * 4100)
    assert (status, content_type) == (414, "text/html")
