"""The throughput section's client: one kept-alive HTTP/1.1 connection sending one request, built once, over and over.

The benchmark's clients share the platform's two cores. ``requests`` spends about a millisecond of CPU on each call,
which the platform then cannot use; this client spends tens of microseconds (it writes bytes ready-made and reads
the answer by its length), so the throughput measured is the platform's, not the client library's.
"""

from __future__ import annotations

import json
import socket
from typing import Any
from urllib.parse import urlsplit

HEADER_END = b"\r\n\r\n"
MAX_HEADER_BYTES = 64 * 1024


class AnswerUnreadable(Exception):
    """The server closed the connection or sent an answer this client does not read (no Content-Length)."""


def json_post(url: str, body: Any, headers: dict[str, str]) -> bytes:
    """The bytes of an HTTP/1.1 POST of ``body`` as JSON to ``url``, kept alive."""
    parts = urlsplit(url)
    payload = json.dumps(body).encode()
    lines = [
        f"POST {parts.path}{'?' + parts.query if parts.query else ''} HTTP/1.1",
        f"Host: {parts.netloc}",
        "Content-Type: application/json",
        f"Content-Length: {len(payload)}",
        *(f"{name}: {value}" for name, value in headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + payload


class KeptAliveClient:
    """Sends ``request`` (``json_post``'s bytes) to ``url``'s host on one connection, opened again when the server
    closes it; ``send`` answers whether the status was 200."""

    def __init__(self, url: str, request: bytes, timeout_s: float = 60.0) -> None:
        parts = urlsplit(url)
        self.address = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.request = request
        self.timeout_s = timeout_s
        self._socket: socket.socket | None = None
        self._buffer = b""

    def send(self) -> bool:
        try:
            if self._socket is None:
                self._socket = socket.create_connection(self.address, timeout=self.timeout_s)
                self._socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                self._buffer = b""
            self._socket.sendall(self.request)
            status, keep_alive = self._read_answer()
        except (OSError, AnswerUnreadable):
            self.close()
            return False
        if not keep_alive:
            self.close()
        return status == 200

    def _read_answer(self) -> tuple[int, bool]:
        while HEADER_END not in self._buffer:
            if len(self._buffer) > MAX_HEADER_BYTES:
                raise AnswerUnreadable("the answer's headers never ended")
            self._receive()
        head, _, self._buffer = self._buffer.partition(HEADER_END)
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if "content-length" not in headers:
            raise AnswerUnreadable(f"an answer without Content-Length: {status_line}")
        length = int(headers["content-length"])
        while len(self._buffer) < length:
            self._receive()
        self._buffer = self._buffer[length:]
        return int(status_line.split(" ", 2)[1]), headers.get("connection", "").lower() != "close"

    def _receive(self) -> None:
        assert self._socket is not None
        chunk = self._socket.recv(65536)
        if not chunk:
            raise AnswerUnreadable("the server closed the connection")
        self._buffer += chunk

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None
