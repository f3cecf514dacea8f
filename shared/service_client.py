"""Calls from one of our processes to a service: one pool of kept-alive connections per app (urllib3, without the
``requests`` layer: this is the gateway's every proxied request, and each layer costs CPU), failures as statuses.

A call that cannot be made or answered becomes an ``UpstreamFailure`` (``shared.errors``) the client sees in the one
error shape: ``UpstreamUnavailable`` (503) when the service is unreachable (down), ``UpstreamTimedOut`` (504) when it
is slow, ``UpstreamBroken`` (502) when it broke the exchange.

Our services' own addresses only: no proxy, no ``.netrc`` and no cookie jar from the environment (one user's
response could otherwise fill the next user's request), and no redirect is followed.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping
from typing import IO, Any
from urllib.parse import quote

import urllib3
import urllib3.connection
import urllib3.exceptions
from flask import Flask, current_app
from urllib3.connectionpool import HTTPConnectionPool

from shared.domain_errors import UpstreamBroken, UpstreamFailure, UpstreamTimedOut, UpstreamUnavailable

SERVICES = ("projects", "trainer", "predictor")
EXTENSION = "service_client"

RequestBody = bytes | IO[bytes] | Iterable[bytes]
# What a failed call raises before any answer arrived: no connection, a timeout, or the exchange broken.
CALL_FAILURES = (urllib3.exceptions.HTTPError, OSError)
# How long our gunicorn servers keep an idle connection open (gunicorn.conf.py's ``keepalive``). A pooled connection
# idle for half that long is opened anew instead of reused: reused at the moment the service closes it, it would
# fail the request sent on it (a 502).
SERVER_KEEPALIVE_S = 5
MAX_IDLE_REUSE_S = SERVER_KEEPALIVE_S / 2


def failure_for(service: str, exc: BaseException) -> UpstreamFailure:
    if isinstance(exc, urllib3.exceptions.NewConnectionError | ConnectionRefusedError):
        return UpstreamUnavailable(f"the {service} service is unavailable")
    if isinstance(exc, urllib3.exceptions.TimeoutError | TimeoutError):
        return UpstreamTimedOut(f"the {service} service did not answer in time")
    return UpstreamBroken(f"the {service} service failed to answer")


class _ConnectionTellingItsBody(urllib3.connection.HTTPConnection):
    """Hands a streamed body the connection it is sent on (``body.sending_on(connection)``), so the body can see
    the service answer before it has all been sent and stop (``body.stopped_early``). Such a connection is closed
    once the answer has started: the service still waits for the rest of the body, so it cannot carry another
    request."""

    _streamed_body: object = None

    def request(self, method, url, body=None, headers=None, **kwargs):  # noqa: ANN001, ANN003, ANN201 - urllib3's
        sending_on = getattr(body, "sending_on", None)
        self._streamed_body = body if sending_on is not None else None
        if sending_on is not None:
            sending_on(self)
        return super().request(method, url, body=body, headers=headers, **kwargs)

    def getresponse(self):  # noqa: ANN201 - urllib3's
        response = super().getresponse()
        if getattr(self._streamed_body, "stopped_early", False) and self.sock is not None:
            # The answer reads on through its own reference to the socket; the pool sees a connection without one
            # and opens a new one for the next request.
            sock, self.sock = self.sock, None
            sock.close()
        self._streamed_body = None
        return response


class _Pool(HTTPConnectionPool):
    """Connections that tell a streamed body where it goes, and none reused after ``max_idle_s`` of rest."""

    ConnectionCls = _ConnectionTellingItsBody
    max_idle_s = MAX_IDLE_REUSE_S

    def _get_conn(self, timeout=None):  # noqa: ANN001, ANN202 - urllib3's
        connection = super()._get_conn(timeout)
        resting_since = getattr(connection, "resting_since", None)
        if resting_since is not None and time.monotonic() - resting_since > self.max_idle_s:
            connection.close()  # connects again when the request is sent
        return connection

    def _put_conn(self, conn) -> None:  # noqa: ANN001 - urllib3's
        if conn is not None:
            conn.resting_since = time.monotonic()
        super()._put_conn(conn)


class ServiceAnswer:
    """A service's answer: status and headers at once; the body read whole (``json``, ``content``) or, for a streamed
    call, in chunks (``chunks``) and then ``close``d, which gives the connection back to the pool once read to its
    end and drops it otherwise."""

    def __init__(self, service: str, raw: urllib3.BaseHTTPResponse) -> None:
        self.service = service
        self.raw = raw

    @property
    def status_code(self) -> int:
        return self.raw.status

    @property
    def headers(self) -> urllib3.HTTPHeaderDict:
        return self.raw.headers

    def json(self) -> Any:
        return self.raw.json()

    def content(self) -> bytes:
        """The whole body, as sent: a streamed call's is read now (``close`` it after); raises UpstreamFailure."""
        try:
            return self.raw.data
        except CALL_FAILURES as exc:
            raise failure_for(self.service, exc) from exc

    def chunks(self, chunk_bytes: int) -> Iterator[bytes]:
        return self.raw.stream(chunk_bytes, decode_content=False)

    def close(self) -> None:
        self.raw.close()
        self.raw.release_conn()


class ServiceClient:
    """The services' base URLs and the one connection pool (per app) used to reach them."""

    def __init__(
        self,
        base_urls: Mapping[str, str],
        connect_timeout_s: float,
        read_timeout_s: float,
        pool_size: int = 32,
        max_idle_reuse_s: float = MAX_IDLE_REUSE_S,
    ) -> None:
        self.base_urls = {service: url.rstrip("/") for service, url in base_urls.items()}
        self.timeout = (connect_timeout_s, read_timeout_s)
        self.pools = urllib3.PoolManager(num_pools=len(self.base_urls) or 1, maxsize=pool_size, retries=False)

        class Pool(_Pool):
            max_idle_s = max_idle_reuse_s

        self.pools.pool_classes_by_scheme = {**self.pools.pool_classes_by_scheme, "http": Pool}

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
        body: RequestBody | None = None,
        stream: bool = False,
        timeout: tuple[float, float] | None = None,
    ) -> ServiceAnswer:
        """One call to ``service`` (``stream``: the caller reads the body by ``chunks`` and closes the answer);
        raises UpstreamFailure."""
        headers = dict(headers)
        length = getattr(body, "len", None)  # a streamed body that knows its length is sent with it, not chunked
        if length is not None:
            headers["Content-Length"] = str(length)
        connect_s, read_s = timeout or self.timeout
        try:
            raw = self.pools.urlopen(
                method,
                self.url(service, path, query),
                headers=headers,
                body=body,
                preload_content=not stream,
                decode_content=False,
                redirect=False,
                timeout=urllib3.Timeout(connect=connect_s, read=read_s),
            )
        except CALL_FAILURES as exc:
            raise failure_for(service, exc) from exc
        return ServiceAnswer(service, raw)

    def close(self) -> None:
        self.pools.clear()


def init_service_client(app: Flask) -> ServiceClient:
    """The app's client for the services at PROJECTS_URL, TRAINER_URL and PREDICTOR_URL, with the upstream timeouts."""
    client = ServiceClient(
        {service: app.config[f"{service.upper()}_URL"] for service in SERVICES},
        connect_timeout_s=app.config["UPSTREAM_CONNECT_TIMEOUT_S"],
        read_timeout_s=app.config["UPSTREAM_READ_TIMEOUT_S"],
    )
    app.extensions[EXTENSION] = client
    return client


def service_client() -> ServiceClient:
    """The current app's client (made by ``init_service_client``)."""
    return current_app.extensions[EXTENSION]
