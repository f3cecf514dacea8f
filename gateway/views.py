"""The gateway's routes: the proxy to the services, the merged OpenAPI document and the page that renders it, and the
gateway's metrics."""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from typing import Any

import swagger_ui_bundle
from flask import Blueprint, Response, abort, current_app, g, jsonify, request, send_from_directory
from flask_jwt_extended import get_jwt_identity, verify_jwt_in_request

from gateway.ownership import OwnershipCache
from gateway.routing import PROJECTS, Route, resolve
from gateway.upstream import (
    BodyTooLarge,
    StreamedBody,
    client_response_headers,
    client_socket_slices,
    upstream_request_headers,
)
from shared.body_limits import max_body_bytes
from shared.domain_errors import ProjectNotFound, UpstreamBroken
from shared.internal_auth import internal_headers
from shared.metrics import UNMATCHED_ROUTE, metrics_response, url_rule_route
from shared.service_client import ServiceAnswer, service_client

# No OPTIONS: the API serves no browser from another origin (no CORS), so it is a 405 like any method not routed.
PROXIED_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]

blp = Blueprint("gateway", __name__)


def _ownership_cache() -> OwnershipCache:
    return current_app.extensions["ownership_cache"]


def _verified_user_id(route: Route) -> int:
    """The user id from a valid, unrevoked access token (logout also takes the refresh token it revokes)."""
    verify_jwt_in_request(verify_type=not route.forwards_authorization)
    try:
        return int(get_jwt_identity())
    except (TypeError, ValueError):
        abort(401)


def _ensure_owned(user_id: int, project_id: int) -> None:
    """404, exactly like a missing project, unless the projects service says the caller owns it."""
    cache = _ownership_cache()
    if cache.owns(user_id, project_id):
        return
    answer = service_client().send(
        PROJECTS, "GET", f"/internal/projects/{project_id}", internal_headers(PROJECTS, user_id)
    )
    if answer.status_code == 404:
        raise ProjectNotFound()
    if answer.status_code != 200:
        raise UpstreamBroken(f"the {PROJECTS} service failed to answer")
    if answer.json().get("owner_id") != user_id:
        raise ProjectNotFound()
    cache.remember(user_id, project_id)


def _body_limit(route: Route) -> int:
    """This request's body cap; a declared Content-Length above it is refused before a byte is read."""
    limit = max_body_bytes(current_app.config, route.body_kind, request.mimetype)
    if request.content_length is not None and request.content_length > limit:
        raise BodyTooLarge(limit)
    return limit


def _request_body(limit: int) -> StreamedBody | bytes | None:
    """The body to send on: streamed, or read whole when its declared length fits in one chunk."""
    length = request.content_length
    if length == 0 or (length is None and "Transfer-Encoding" not in request.headers):
        return None
    config = current_app.config
    chunk_bytes = config["PROXY_CHUNK_BYTES"]
    body = StreamedBody(request.stream, length, chunk_bytes, limit, config["CLIENT_BODY_IDLE_TIMEOUT_S"])
    # A short body costs less sent in one piece with its request.
    return b"".join(body) if length is not None and length <= chunk_bytes else body


def _upload_timeout() -> tuple[float, float]:
    config = current_app.config
    return config["UPSTREAM_CONNECT_TIMEOUT_S"], config["UPLOAD_READ_TIMEOUT_S"]


def _proxy(route: Route, user_id: int | None, body_limit: int) -> Response:
    headers = upstream_request_headers(
        request.headers.items(),
        added=internal_headers(route.service, user_id, client_address=request.remote_addr),
        keep_authorization=route.forwards_authorization,
    )
    with client_socket_slices(request.environ):
        upstream = service_client().send(
            route.service,
            request.method,
            request.path,
            headers,
            query=request.query_string.decode("latin-1"),
            body=_request_body(body_limit),
            stream=True,
            timeout=_upload_timeout() if route.takes_uploads and request.method == "POST" else None,
        )
    chunk_bytes = current_app.config["PROXY_CHUNK_BYTES"]
    headers = client_response_headers(upstream.headers.items())
    length = upstream.headers.get("Content-Length", "")
    if request.method != "HEAD" and length.isdecimal() and int(length) <= chunk_bytes:
        # One chunk or less: read whole and answered in one piece (a HEAD answer's length is not its body's).
        try:
            response = Response(upstream.content(), status=upstream.status_code, headers=headers)
        finally:
            upstream.close()
    else:
        response = Response(_streamed(upstream, chunk_bytes), status=upstream.status_code, headers=headers)
        response.call_on_close(upstream.close)
    if "Content-Type" not in upstream.headers:
        del response.headers["Content-Type"]
    return response


def _streamed(upstream: ServiceAnswer, chunk_bytes: int) -> Iterator[bytes]:
    try:
        yield from upstream.chunks(chunk_bytes)
    finally:
        upstream.close()


@blp.route("/api/v1/auth/<path:_rest>", methods=PROXIED_METHODS, provide_automatic_options=False)
@blp.route("/api/v1/projects", methods=PROXIED_METHODS, provide_automatic_options=False)
@blp.route("/api/v1/projects/<path:_rest>", methods=PROXIED_METHODS, provide_automatic_options=False)
def forward(_rest: str | None = None) -> Response:
    """Check the caller's token and project, then pass the request to the service that owns the route."""
    route = g.route = resolve(request.path)
    if route is None:
        abort(404)
    body_limit = _body_limit(route)
    user_id = None
    if route.needs_access_token:
        user_id = g.user_id = _verified_user_id(route)
    if route.project_id is not None:
        _ensure_owned(user_id, route.project_id)
    response = _proxy(route, user_id, body_limit)
    if route.is_the_project and request.method == "DELETE" and response.status_code < 300:
        _ownership_cache().forget_project(route.project_id)
    return response


def metrics_route() -> str:
    """A proxied request's route for the metrics: the routing-table entry it falls under (the catch-all rules that
    ``forward`` is mounted on would put every request under three labels); any other request's URL rule."""
    if request.endpoint == "gateway.forward":
        route = g.get("route")
        return route.template if route is not None else UNMATCHED_ROUTE
    return url_rule_route()


@blp.get("/metrics")
def metrics() -> Response:
    """The gateway's Prometheus metrics, for a scraper that sends ``Authorization: Bearer <METRICS_TOKEN>``; 404, as
    for any unknown path, to everyone else and whenever METRICS_TOKEN is not set."""
    expected = current_app.config["METRICS_TOKEN"]
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    if not expected or scheme.lower() != "bearer" or not hmac.compare_digest(presented.encode(), expected.encode()):
        abort(404)
    return metrics_response()


@blp.get("/api/v1/openapi.json")
def openapi_document() -> Response:
    """The public API as one OpenAPI 3 document, merged from the services' documents."""
    return jsonify(current_app.extensions["openapi_document"].current())


def fetch_service_document(service: str) -> dict[str, Any]:
    answer = service_client().send(service, "GET", "/openapi.json", internal_headers(service, None))
    if answer.status_code != 200:
        raise UpstreamBroken(f"the {service} service answered {answer.status_code} for its OpenAPI document")
    return answer.json()


@blp.get("/api/docs")
def api_docs() -> Response:
    """The API reference (Swagger UI) rendering /api/v1/openapi.json, with Swagger UI's files served from here."""
    response = Response(DOCS_PAGE, mimetype="text/html")
    response.headers["Content-Security-Policy"] = DOCS_CSP
    return response


@blp.get("/api/docs/<name>")
def api_docs_asset(name: str) -> Response:
    """Swagger UI's files, from the swagger-ui-bundle package (the page works offline and loads nothing from a CDN),
    and the page's own start script (no inline script, so the CSP needs no 'unsafe-inline' for scripts)."""
    if name == DOCS_START_SCRIPT:
        response = Response(DOCS_START, mimetype="text/javascript")
    elif name in SWAGGER_UI_FILES:
        response = send_from_directory(swagger_ui_bundle.swagger_ui_path, name, max_age=DOCS_ASSET_MAX_AGE_S)
    else:
        abort(404)
    response.headers["Cache-Control"] = f"public, max-age={DOCS_ASSET_MAX_AGE_S}"
    return response


SWAGGER_UI_FILES = {"swagger-ui.css", "swagger-ui-bundle.js", "favicon-32x32.png"}
DOCS_START_SCRIPT = "start.js"
DOCS_ASSET_MAX_AGE_S = 86400
# Swagger UI styles some elements through style attributes; everything else comes from this origin only.
DOCS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
DOCS_START = """window.onload = () => {
  window.ui = SwaggerUIBundle({ url: "/api/v1/openapi.json", dom_id: "#swagger-ui" });
};
"""
DOCS_PAGE = f"""<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>SalesML API</title>
  <link rel="icon" href="/api/docs/favicon-32x32.png">
  <link rel="stylesheet" href="/api/docs/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/api/docs/swagger-ui-bundle.js"></script>
  <script src="/api/docs/{DOCS_START_SCRIPT}"></script>
</body>
</html>
"""
