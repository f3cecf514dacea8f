"""The web console: one page at ``/`` and its static files (ES modules, CSS) under ``/console/``, with Plotly.js served
from the installed ``plotly`` package. No build step and no external host: the page loads only what this blueprint
serves and talks only to the public API (``/api/v1``, same origin, the user's own token kept in sessionStorage).

Every answer here carries its own Content-Security-Policy (no inline script or style, nothing from another origin,
no framing); ``gateway.plotly_assets`` explains how Plotly runs under it.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, abort, send_file, send_from_directory

from gateway.plotly_assets import BUNDLE, GLOBAL_STYLE_ID, plotly_assets

CONSOLE_DIR = Path(__file__).parent / "console"
PLOTLY_STYLES_MARKER = "<!-- plotly styles -->"
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        # data: and blob: for the PNGs Plotly makes of a chart; downloads are blob: links.
        "img-src 'self' data: blob:",
        "connect-src 'self'",
        "font-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    )
)
STATIC_TYPES = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}

blp = Blueprint("console", __name__)


@blp.after_request
def _console_headers(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
    # Revalidate every time (an ETag makes that cheap): a new deployment is seen at the next load.
    response.headers["Cache-Control"] = "no-cache"
    return response


@blp.get("/")
def index() -> Response:
    """The console's single page."""
    return Response(_index_page(), mimetype="text/html")


@blp.get("/console/<path:name>")
def static_file(name: str) -> Response:
    """One of the console's own files (ES modules, CSS, icon); 404 for anything else."""
    suffix = Path(name).suffix
    if suffix not in STATIC_TYPES:
        abort(404)
    return send_from_directory(CONSOLE_DIR, name, mimetype=STATIC_TYPES[suffix])


@blp.get("/console/vendor/plotly.min.js")
def plotly_script() -> Response:
    """Plotly.js from the installed plotly package."""
    return send_file(BUNDLE, mimetype="text/javascript", conditional=True, etag=True)


@blp.get("/console/vendor/plotly.css")
def plotly_stylesheet() -> Response:
    """The CSS Plotly.js would otherwise insert as inline <style> elements."""
    return Response(plotly_assets().css, mimetype="text/css")


def _index_page() -> str:
    assets = plotly_assets()
    guards = [
        f'<link id="{GLOBAL_STYLE_ID}" class="no-inline-styles" rel="stylesheet" href="/console/vendor/plotly.css">',
        *(f'<template id="{guard}"></template>' for guard in assets.style_guard_ids),
    ]
    page = (CONSOLE_DIR / "index.html").read_text(encoding="utf-8")
    return page.replace(PLOTLY_STYLES_MARKER, "\n  ".join(guards))
