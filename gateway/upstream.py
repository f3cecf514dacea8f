"""The header and body rules of the gateway's proxy (the calls themselves go through ``shared.service_client``).

Rules as in werkzeug's ``middleware/http_proxy.py``: hop-by-hop headers are dropped both ways, bodies stream both
ways, every call has a timeout, and a failed call becomes an error status (503 unreachable, 502 broken, 504 slow).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import IO

from werkzeug.http import is_hop_by_hop_header

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


class StreamedBody:
    """A request body read from the client in chunks while it is sent on, never held whole in memory.

    ``len`` is the client's Content-Length (``requests`` then sends it as is) or None (sent chunked).
    """

    def __init__(self, stream: IO[bytes], length: int | None, chunk_bytes: int) -> None:
        self.stream = stream
        self.len = length
        self.chunk_bytes = chunk_bytes

    def __iter__(self) -> Iterator[bytes]:
        while chunk := self.stream.read(self.chunk_bytes):
            yield chunk
