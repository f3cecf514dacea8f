"""Short-lived signed tokens that tell a service who the caller is.

The gateway (or a service calling another) signs ``{"sub": user id, "aud": target service, "type": "internal",
"exp": ...}`` with ``INTERNAL_TOKEN_SECRET``, and the gateway adds ``"addr"``: the client's address as it saw it
(the TCP peer, or what the operator's trusted proxies say), which a client cannot forge. Every service refuses any
request without a valid token addressed to it (401), except its ``/health`` routes and ``/metrics``, which are for
the operator (the gateway routes none of them). Client-sent identity headers are never read.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt
from flask import Flask, current_app, g, request

from shared.errors import error_response
from shared.expiring_map import ExpiringMap
from shared.logs import new_request_id

INTERNAL_TOKEN_HEADER = "X-Internal-Token"
INTERNAL_TOKENS_EXTENSION = "internal_tokens"
INTERNAL_ALGORITHM = "HS256"
ISSUER = "salesml"
# Required, with the audience: a user's token (type access or refresh, audience the API) is never taken for one.
INTERNAL_TOKEN_TYPE = "internal"


@dataclass(frozen=True)
class InternalCaller:
    """Who a valid internal token speaks for: the user (None on no user's behalf) and the client's address (None
    when the call did not come from a client through the gateway)."""

    user_id: int | None
    client_address: str | None = None


def issue_internal_token(
    secret: str, audience: str, user_id: int | None, ttl_seconds: int = 60, client_address: str | None = None
) -> str:
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "aud": audience,
        "type": INTERNAL_TOKEN_TYPE,
        "iat": now,
        "exp": now + ttl_seconds,
        "jti": uuid.uuid4().hex,
    }
    if user_id is not None:
        claims["sub"] = str(user_id)
    if client_address is not None:
        claims["addr"] = client_address
    return jwt.encode(claims, secret, algorithm=INTERNAL_ALGORITHM)


def verify_internal_token(secret: str, token: str, audience: str) -> InternalCaller:
    """The caller of a valid token addressed to ``audience``; raises ``jwt.InvalidTokenError`` otherwise."""
    return _caller(_verified_claims(secret, token, audience))


def _verified_claims(secret: str, token: str, audience: str) -> dict[str, Any]:
    claims = jwt.decode(
        token,
        secret,
        algorithms=[INTERNAL_ALGORITHM],
        audience=audience,
        issuer=ISSUER,
        options={"require": ["exp", "iat", "aud", "iss", "jti"]},
    )
    if claims.get("type") != INTERNAL_TOKEN_TYPE:
        raise jwt.InvalidTokenError("not an internal token")
    return claims


def _caller(claims: dict[str, Any]) -> InternalCaller:
    sub = claims.get("sub")
    address = claims.get("addr")
    return InternalCaller(int(sub) if sub is not None else None, address if isinstance(address, str) else None)


class InternalTokens:
    """Internal tokens of one process, each reused for the first half of its lifetime: a caller's requests share
    one signature instead of paying one each, and a reused token still has half its lifetime left when sent."""

    def __init__(
        self, secret: str, ttl_seconds: int, max_entries: int = 10_000, clock: Callable[[], float] = time.time
    ) -> None:
        self.secret = secret
        self.ttl_seconds = ttl_seconds
        self._tokens: ExpiringMap[tuple[str, int | None, str | None], str] = ExpiringMap(max_entries, clock)

    def token(self, audience: str, user_id: int | None, client_address: str | None = None) -> str:
        key = (audience, user_id, client_address)
        token = self._tokens.get(key)
        if token is None:
            token = issue_internal_token(self.secret, audience, user_id, self.ttl_seconds, client_address)
            self._tokens.put(key, token, self._tokens.clock() + self.ttl_seconds / 2)
        return token


def internal_headers(audience: str, user_id: int | None, client_address: str | None = None) -> dict[str, str]:
    """Headers for a call from this app to another service, on behalf of ``user_id`` (and of the client at
    ``client_address``, when the gateway forwards a client's request)."""
    tokens = current_app.extensions.get(INTERNAL_TOKENS_EXTENSION)
    if tokens is None:
        config = current_app.config
        tokens = InternalTokens(config["INTERNAL_TOKEN_SECRET"], config["INTERNAL_TOKEN_SECONDS"])
        current_app.extensions.setdefault(INTERNAL_TOKENS_EXTENSION, tokens)
    token = tokens.token(audience, user_id, client_address)
    return {INTERNAL_TOKEN_HEADER: token, "X-Request-ID": getattr(g, "request_id", "") or new_request_id()}


class VerifiedTokens:
    """Internal tokens this process has verified, remembered until they expire: a caller reuses its token for many
    requests (``InternalTokens``), and a string already verified needs no second check of its signature."""

    def __init__(self, secret: str, audience: str, max_entries: int = 10_000) -> None:
        self.secret = secret
        self.audience = audience
        self._verified: ExpiringMap[str, InternalCaller] = ExpiringMap(max_entries, time.time)  # ``exp`` is wall time

    def caller(self, token: str) -> InternalCaller:
        """The caller of a valid token; ``jwt.InvalidTokenError`` otherwise (an expired one too)."""
        caller = self._verified.get(token)
        if caller is None:
            claims = _verified_claims(self.secret, token, self.audience)
            caller = _caller(claims)
            self._verified.put(token, caller, float(claims["exp"]))
        return caller


def require_internal_token(app: Flask, audience: str) -> None:
    """Answer 401 to every request but /health* and /metrics that lacks a valid internal token for ``audience``."""
    verified = VerifiedTokens(app.config["INTERNAL_TOKEN_SECRET"], audience)

    @app.before_request
    def _check_internal_token():
        if request.path in ("/health", "/metrics") or request.path.startswith("/health/"):
            return None
        token = request.headers.get(INTERNAL_TOKEN_HEADER, "")
        try:
            caller = verified.caller(token)
        except jwt.InvalidTokenError:
            return error_response(401, "This service is reachable only through the gateway.")
        g.user_id = caller.user_id
        g.client_address = caller.client_address
        return None


def current_user_id() -> int:
    """The caller's user id from the internal token; 401 if the request carries none (an anonymous route)."""
    from flask import abort

    user_id = getattr(g, "user_id", None)
    if user_id is None:
        abort(401)
    return user_id


def current_client_address() -> str | None:
    """The client's address as the gateway saw it (None when the call did not come through the gateway)."""
    return getattr(g, "client_address", None)
