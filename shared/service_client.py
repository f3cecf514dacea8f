"""Calls from one of our processes to a service: one pooled ``requests.Session`` per app, failures as statuses.

A call that cannot be made or answered becomes an ``UpstreamFailure`` (``shared.errors``) the client sees in the one
error shape: ``UpstreamUnavailable`` (503) when the service is unreachable (down), ``UpstreamTimedOut`` (504) when it
is slow, ``UpstreamBroken`` (502) when it broke the exchange.
"""

from __future__ import annotations

import http.cookiejar
from collections.abc import Iterable, Mapping
from typing import IO
from urllib.parse import quote

import requests
import urllib3.connection
import urllib3.exceptions
from flask import Flask, current_app
from requests.adapters import HTTPAdapter
from urllib3.connectionpool import HTTPConnectionPool

from shared.domain_errors import UpstreamBroken, UpstreamFailure, UpstreamTimedOut, UpstreamUnavailable

SERVICES = ("projects", "trainer", "predictor")
EXTENSION = "service_client"

RequestBody = bytes | IO[bytes] | Iterable[bytes]


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
        return UpstreamTimedOut(f"the {service} service did not answer in time")
    if isinstance(exc, requests.ConnectionError) and _failed_to_connect(exc):
        return UpstreamUnavailable(f"the {service} service is unavailable")
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
    ConnectionCls = _ConnectionTellingItsBody


class ServiceClient:
    """The services' base URLs and the one connection pool (per app) used to reach them."""

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
        adapter.poolmanager.pool_classes_by_scheme = {**adapter.poolmanager.pool_classes_by_scheme, "http": _Pool}
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
        body: RequestBody | None = None,
        stream: bool = False,
        timeout: tuple[float, float] | None = None,
    ) -> requests.Response:
        """One call to ``service`` (``stream``: the caller reads and closes the body); raises UpstreamFailure."""
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
