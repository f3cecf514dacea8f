"""The header and body rules of the gateway's proxy (the calls themselves go through ``shared.service_client``).

Rules as in werkzeug's ``middleware/http_proxy.py``: hop-by-hop headers are dropped both ways, bodies stream both
ways (one that fits in one chunk goes through whole), every call has a timeout, and a failed call becomes an error
status (503 unreachable, 502 broken, 504 slow).
"""

from __future__ import annotations

import select
import socket
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import IO, Any

from werkzeug.http import is_hop_by_hop_header

from shared.domain_errors import DomainError

# Identity and credentials are the gateway's to assert: whatever a client sends under these names is dropped.
_CLIENT_IDENTITY_PREFIXES = ("x-user-", "x-internal-")
_DROPPED_REQUEST_HEADERS = {
    "host",
    "content-length",
    "expect",
    "authorization",
    "cookie",
    "x-request-id",
    "x-forwarded-user",
}
# The gateway's own server writes these; passing the upstream's on would duplicate them.
_DROPPED_RESPONSE_HEADERS = {"server", "date"}


def _connection_listed(headers: Iterable[tuple[str, str]]) -> set[str]:
    """Header names a sender lists in ``Connection``: hop-by-hop for this one connection only."""
    names: set[str] = set()
    for name, value in headers:
        if name.lower() == "connection":
            names.update(token.strip().lower() for token in value.split(",") if token.strip())
    return names


def upstream_request_headers(
    client_headers: Iterable[tuple[str, str]], added: Mapping[str, str], keep_authorization: bool = False
) -> dict[str, str]:
    """The client's end-to-end headers minus any identity it claims, plus the gateway's ``added`` ones."""
    client_headers = list(client_headers)
    per_connection = _connection_listed(client_headers)
    forwarded: dict[str, str] = {}
    for name, value in client_headers:
        lowered = name.lower()
        if lowered == "authorization" and keep_authorization:
            forwarded[name] = value
            continue
        if (
            is_hop_by_hop_header(name)
            or lowered in per_connection
            or lowered in _DROPPED_REQUEST_HEADERS
            or lowered.startswith(_CLIENT_IDENTITY_PREFIXES)
        ):
            continue
        forwarded[name] = value
    forwarded.update(added)
    return forwarded


def client_response_headers(upstream_headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """The service's end-to-end response headers (the body passes through byte for byte, so its length holds)."""
    upstream_headers = list(upstream_headers)
    per_connection = _connection_listed(upstream_headers)
    return [
        (name, value)
        for name, value in upstream_headers
        if not is_hop_by_hop_header(name)
        and name.lower() not in per_connection
        and name.lower() not in _DROPPED_RESPONSE_HEADERS
    ]


class BodyTooLarge(DomainError):
    """The request body is (or says it is) larger than its route takes."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(f"The request body is over this route's limit of {max_bytes} bytes.")


class ClientStoppedSending(DomainError):
    """The client sent no byte of its body for the idle timeout."""

    def __init__(self, idle_s: float) -> None:
        super().__init__(f"No byte of the request body arrived for {idle_s:g} seconds; send it again.")


class BodyCutShort(DomainError):
    """The client's body ended before the length its Content-Length declared."""

    def __init__(self, length: int) -> None:
        super().__init__(f"The request body ended before the {length} bytes its Content-Length gave; send it whole.")


# How long one read of the client's socket waits before the body looks again whether the service has answered.
WAIT_SLICE_S = 0.25


class StreamedBody:
    """A request body read from the client in chunks while it is sent on, never held whole in memory (but for one of a
    single chunk, which the gateway joins), and never more than ``max_bytes`` of it (a chunked body has no length to
    refuse up front); one that ends before its Content-Length is refused, not sent on as if whole.

    While it waits for the client it watches the service: once the service has answered (say, a 413 of its own) the
    body stops, so the answer goes back without waiting for the rest. A client silent for ``idle_s`` is given up on.
    The client socket's reads time out after ``WAIT_SLICE_S`` (``client_socket_slices``); gunicorn keeps what a read
    got before its timeout, so the next read goes on where it stopped.

    ``len`` is the client's Content-Length (``shared.service_client`` then sends it as is) or None (sent chunked). The
    exceptions raised while reading are domain errors, so they pass through urllib3 to the view as they are.
    """

    def __init__(self, stream: IO[bytes], length: int | None, chunk_bytes: int, max_bytes: int, idle_s: float) -> None:
        self.stream = stream
        self.len = length
        self.chunk_bytes = chunk_bytes
        self.max_bytes = max_bytes
        self.idle_s = idle_s
        self.stopped_early = False
        self._upstream: Any = None

    def sending_on(self, connection: Any) -> None:
        """Told by ``shared.service_client`` which connection (with its ``sock``) the body goes out on."""
        self._upstream = connection

    def _service_answered(self) -> bool:
        upstream = getattr(self._upstream, "sock", None)
        return upstream is not None and bool(select.select([upstream], [], [], 0)[0])

    def __iter__(self) -> Iterator[bytes]:
        received = 0
        silent_s = 0.0
        while True:
            if self._service_answered():
                self.stopped_early = True
                return
            try:
                chunk = self.stream.read(self.chunk_bytes)
            except TimeoutError as exc:  # one slice without a byte
                silent_s += WAIT_SLICE_S
                if silent_s >= self.idle_s:
                    raise ClientStoppedSending(self.idle_s) from exc
                continue
            silent_s = 0.0
            if not chunk:
                if self.len is not None and received < self.len:
                    raise BodyCutShort(self.len)  # else the service would take the part as the whole
                return
            received += len(chunk)
            if received > self.max_bytes:
                raise BodyTooLarge(self.max_bytes)
            yield chunk
            if received == self.len:  # all of it: the service may already have answered, which is no early stop
                return


@contextmanager
def client_socket_slices(environ: dict[str, Any]) -> Iterator[None]:
    """Reads of the client's socket time out after ``WAIT_SLICE_S`` inside the block (under gunicorn, which hands its
    socket over in the environ; elsewhere, such as the test client, there is no socket to bound)."""
    client = environ.get("gunicorn.socket")
    if not isinstance(client, socket.socket):
        yield
        return
    previous = client.gettimeout()
    client.settimeout(WAIT_SLICE_S)
    try:
        yield
    finally:
        client.settimeout(previous)
