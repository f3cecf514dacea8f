"""Response headers every answer of ours carries unless its route sets its own (the gateway keeps a service's).

Our answers are a user's private data (or tokens), never meant for a cache, another site's frame, or content
sniffing; the only HTML is the API reference page, which sets its own Content-Security-Policy.
"""

from __future__ import annotations

from flask import Flask, Response

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
}


_LOWERED = {name.lower(): (name, value) for name, value in SECURITY_HEADERS.items()}


def add_security_headers(response: Response) -> Response:
    present = {name.lower() for name, _ in response.headers}  # one pass: each ``setdefault`` would scan them all
    for lowered, (name, value) in _LOWERED.items():
        if lowered not in present:
            response.headers.add(name, value)
    return response


def init_security_headers(app: Flask) -> None:
    app.after_request(add_security_headers)
