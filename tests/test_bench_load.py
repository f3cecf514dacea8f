"""The throughput section's lean client (``bench.load``) reads what our servers answer, tells 200 from the rest and
opens its connection again when the server closes it."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bench.load import KeptAliveClient, json_post


class _Answers(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    connections = 0
    bodies: list[dict] = []

    def setup(self) -> None:
        super().setup()
        type(self).connections += 1

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).bodies.append({"path": self.path, "auth": self.headers["Authorization"], **body})
        answer = b'{"prediction": 1.5}'
        self.send_response(404 if self.path.endswith("/missing") else 200)
        self.send_header("Content-Length", str(len(answer)))
        if body.get("last"):
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server_url() -> Iterator[str]:
    _Answers.connections, _Answers.bodies = 0, []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Answers)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_sends_the_same_request_on_one_connection_and_tells_200_from_the_rest(server_url):
    url = f"{server_url}/api/v1/projects/1/predict?version=2"
    client = KeptAliveClient(url, json_post(url, {"price": 150.0}, {"Authorization": "Bearer t"}))
    assert [client.send() for _ in range(3)] == [True, True, True]
    assert _Answers.connections == 1
    assert _Answers.bodies[0] == {"path": "/api/v1/projects/1/predict?version=2", "auth": "Bearer t", "price": 150.0}
    missing = KeptAliveClient(f"{server_url}/missing", json_post(f"{server_url}/missing", {}, {"Authorization": "-"}))
    assert missing.send() is False
    client.close()
    missing.close()


def test_opens_the_connection_again_after_the_server_closed_it(server_url):
    closing = KeptAliveClient(server_url + "/p", json_post(server_url + "/p", {"last": True}, {"Authorization": "-"}))
    assert closing.send() and closing.send()
    assert _Answers.connections == 2
    closing.close()
    unreachable = KeptAliveClient("http://127.0.0.1:1/p", b"GET / HTTP/1.1\r\n\r\n", timeout_s=1)
    assert unreachable.send() is False
