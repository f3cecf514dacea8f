"""Calls from the gateway to the services: one ``requests.Session`` per process and the header rules of a proxy.

Rules as in werkzeug's ``middleware/http_proxy.py``: hop-by-hop headers are dropped both ways, bodies stream both
ways, every call has a timeout, and a failed call becomes an error status (503 unreachable, 502 broken, 504 slow).
"""

from __future__ import annotations

import http.cookiejar
from collections.abc import Iterable, Iterator, Mapping
from typing import IO
from urllib.parse import quote

import requests
import urllib3.exceptions
from requests.adapters import HTTPAdapter
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


class UpstreamFailure(Exception):
    """A service could not be asked or did not answer properly; ``code`` is the status to give the client."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


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


def _failed_to_connect(exc: BaseException) -> bool:
    """True when no connection could be opened (refused, unresolvable host): the service is down, not broken."""
    seen: set[int] = set()
    pending: list[BaseException | None] = [exc]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, urllib3.exceptions.NewConnectionError | ConnectionRefusedError):
            return True
        pending.extend([current.__cause__, current.__context__, getattr(current, "reason", None)])
        pending.extend(arg for arg in current.args if isinstance(arg, BaseException))
    return False


def failure_for(service: str, exc: requests.RequestException) -> UpstreamFailure:
    if isinstance(exc, requests.Timeout):
        return UpstreamFailure(504, f"the {service} service did not answer in time")
    if isinstance(exc, requests.ConnectionError) and _failed_to_connect(exc):
        return UpstreamFailure(503, f"the {service} service is unavailable")
    return UpstreamFailure(502, f"the {service} service failed to answer")


class Upstreams:
    """The services' base URLs and the one connection pool (per process) used to reach them."""

    def __init__(
        self,
        base_urls: Mapping[str, str],
        connect_timeout_s: float,
        read_timeout_s: float,
        pool_size: int = 32,
    ) -> None:
        self.base_urls = {service: url.rstrip("/") for service, url in base_urls.items()}
        self.timeout = (connect_timeout_s, read_timeout_s)
        self.session = requests.Session()
        # Calls go to our own services only: no proxies or .netrc from the environment, and no cookie jar that
        # one user's response could fill for the next user's request.
        self.session.trust_env = False
        self.session.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
        adapter = HTTPAdapter(pool_connections=len(self.base_urls) or 1, pool_maxsize=pool_size, max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    def url(self, service: str, path: str, query: str = "") -> str:
        url = self.base_urls[service] + quote(path, safe="/!$&'()*+,;=:@")
        return f"{url}?{query}" if query else url

    def send(
        self,
        service: str,
        method: str,
        path: str,
        headers: Mapping[str, str],
        query: str = "",
        body: StreamedBody | None = None,
        stream: bool = True,
        timeout: tuple[float, float] | None = None,
    ) -> requests.Response:
        """One call to ``service``; raises UpstreamFailure when it cannot be made or answered."""
        try:
            return self.session.request(
                method,
                self.url(service, path, query),
                headers=dict(headers),
                data=body,
                stream=stream,
                timeout=timeout or self.timeout,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            raise failure_for(service, exc) from exc

    def close(self) -> None:
        self.session.close()
