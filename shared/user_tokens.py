"""User access/refresh tokens (flask-jwt-extended): one setup for the gateway and the projects service.

Fixed algorithm; ``exp``, ``jti``, ``sub``, ``type`` (access or refresh), ``aud`` (``USER_TOKEN_AUDIENCE``) and
``sid`` required, so a user token never passes for an internal token (``shared.internal_auth``: type ``internal``,
audience a service) nor the other way round, whatever the secrets. The access and refresh tokens of one login share
a session id (``sid``); logging out revokes the session, so both stop working. Revocations are stored in the
database (table ``revoked_sessions``, migrated by the projects service), so a logout survives restarts. A token
whose user does not exist is refused like a revoked one. Every failure is a 401 in the error shape.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from contextlib import closing
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask, current_app, g, request
from flask_jwt_extended import JWTManager, create_access_token, create_refresh_token
from sqlalchemy import DateTime, String, bindparam, column, create_engine, exists, select, table
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import db
from shared.errors import error_response
from shared.expiring_map import ExpiringMap

JWT_ALGORITHM = "HS256"
USER_TOKEN_AUDIENCE = "salesml-api"
USER_TOKEN_TYPES = ("access", "refresh")
SESSION_CLAIM = "sid"
TOKEN_CHECKS_EXTENSION = "token_checks"
VERIFIED_TOKENS_EXTENSION = "verified_user_tokens"
MISSING_CLAIMS = "Invalid token: required claims (exp, jti, a user id as sub, type, aud, sid) are missing."


class _RememberingJWTManager(JWTManager):
    """flask-jwt-extended's manager, with the claims of each token an app has verified remembered (per app) until
    the token expires: its signature and claims are checked once, not on every request (pyjwt decodes the token four
    times per check, character by character). Revocation is still asked on every request (``_token_revoked``)."""

    def _decode_jwt_from_config(self, encoded_token: str, csrf_value: Any = None, allow_expired: bool = False) -> dict:
        verified: ExpiringMap[str, dict] = current_app.extensions[VERIFIED_TOKENS_EXTENSION]
        claims = None if allow_expired else verified.get(encoded_token)
        if claims is None:
            claims = super()._decode_jwt_from_config(encoded_token, csrf_value, allow_expired)
            if not allow_expired and isinstance(claims.get("exp"), int | float):
                verified.put(encoded_token, claims, float(claims["exp"]))  # ``exp`` is wall time
        return dict(claims)


jwt_manager = _RememberingJWTManager()

# The projects service's table, as far as a token check needs it.
_users = table("users", column("id"))


class RevokedSession(db.Model):
    __tablename__ = "revoked_sessions"

    session_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


def issue_token_pair(user_id: int) -> tuple[str, str]:
    """(access token, refresh token) of a new session for ``user_id``."""
    session = {SESSION_CLAIM: uuid.uuid4().hex}
    identity = str(user_id)
    return (
        create_access_token(identity=identity, additional_claims=session),
        create_refresh_token(identity=identity, additional_claims=session),
    )


def issue_access_token(user_id: int, session_id: str) -> str:
    """Another access token of the same session (what a refresh gives)."""
    return create_access_token(identity=str(user_id), additional_claims={SESSION_CLAIM: session_id})


def revoke_session(jwt_payload: dict[str, Any]) -> None:
    """End the token's session: every token of it is refused from now on (the caller commits)."""
    session_id = jwt_payload[SESSION_CLAIM]
    if db.session.get(RevokedSession, session_id) is None:
        # No token of the session outlives the refresh token it started with.
        expires_at = datetime.now(UTC) + timedelta(days=current_app.config["REFRESH_TOKEN_DAYS"])
        db.session.add(RevokedSession(session_id=session_id, expires_at=expires_at))


# Every serving thread of a process may ask at once (gunicorn: 8 threads a process, 16 in the predictor): the pool
# keeps a connection for each. Beyond its size a connection is opened for one question and closed after it, which
# cost a new PostgreSQL session on one request in 40 at 32 concurrent clients (a few milliseconds of CPU each, most
# of it the server's). A connection is opened when a thread first needs it and then kept.
KEPT_CONNECTIONS = 32


class TokenChecks:
    """The database question every authenticated request asks, answered in one round trip: is the token's session
    revoked, and does its user exist? It is asked on an engine of its own in autocommit (no transaction to begin or
    roll back), without a ping before each use, and on the driver's own cursor with the statement compiled once
    (SQLAlchemy's execution layers cost a third of the question's time). A connection the database dropped (a
    restart) is replaced and the question asked once more, so no request fails for it."""

    QUESTION = select(
        exists().where(RevokedSession.session_id == bindparam("session_id")),
        exists().where(_users.c.id == bindparam("user_id")),
    )

    def __init__(self, database_url: str, engine_options: dict[str, Any]) -> None:
        options = {**engine_options, "pool_pre_ping": False, "isolation_level": "AUTOCOMMIT"}
        if "pool_size" in options:  # a pool of connections (PostgreSQL; SQLite's engine has none to size)
            options["pool_size"] = KEPT_CONNECTIONS
        self.engine = create_engine(database_url, **options)
        self._question = self.QUESTION.compile(dialect=self.engine.dialect)
        self._sql = str(self._question)

    def ask(self, session_id: str, user_id: int) -> tuple[bool, bool]:
        """(revoked, user exists)."""
        dialect = self.engine.dialect
        values = {"session_id": session_id, "user_id": user_id}
        parameters = tuple(values[name] for name in self._question.positiontup) if self._question.positional else values
        for attempt in (1, 2):
            with self.engine.connect() as connection:
                driver_connection = connection.connection.dbapi_connection
                try:
                    with closing(driver_connection.cursor()) as cursor:
                        cursor.execute(self._sql, parameters)
                        revoked, exists_ = cursor.fetchone()
                        return bool(revoked), bool(exists_)
                except dialect.loaded_dbapi.Error as exc:
                    if attempt == 2 or not dialect.is_disconnect(exc, driver_connection, None):
                        # As SQLAlchemy raises it, so that the apps' handlers (a JSON 503) see the same error.
                        raise DBAPIError.instance(
                            self._sql, parameters, exc, dialect.loaded_dbapi.Error, dialect=dialect
                        ) from exc
                    # The database went away: every pooled connection is as dead as this one (SQLAlchemy's own
                    # execution would invalidate the whole pool too), so the question is asked on a new one.
                    connection.invalidate(exc)
                    self.engine.dispose(close=False)
        raise AssertionError("unreachable")


def init_user_tokens(app: Flask) -> None:
    config = app.config
    app.config.update(
        JWT_SECRET_KEY=config["JWT_SECRET_KEY"],
        JWT_ALGORITHM=JWT_ALGORITHM,
        JWT_DECODE_ALGORITHMS=[JWT_ALGORITHM],
        JWT_ENCODE_AUDIENCE=USER_TOKEN_AUDIENCE,
        JWT_DECODE_AUDIENCE=USER_TOKEN_AUDIENCE,
        JWT_TOKEN_LOCATION=["headers"],
        JWT_ACCESS_TOKEN_EXPIRES=timedelta(minutes=config["ACCESS_TOKEN_MINUTES"]),
        JWT_REFRESH_TOKEN_EXPIRES=timedelta(days=config["REFRESH_TOKEN_DAYS"]),
        JWT_ERROR_MESSAGE_KEY="message",
    )
    jwt_manager.init_app(app)
    app.extensions[VERIFIED_TOKENS_EXTENSION] = ExpiringMap(clock=time.time)
    app.extensions[TOKEN_CHECKS_EXTENSION] = TokenChecks(
        config["SQLALCHEMY_DATABASE_URI"], config.get("SQLALCHEMY_ENGINE_OPTIONS", {})
    )


def _unauthorized(message: str):
    return error_response(401, message)


@jwt_manager.token_in_blocklist_loader
def _token_revoked(_header: dict, payload: dict) -> bool:
    """Revoked when its session was logged out or its user does not exist (one query for both)."""
    # flask-jwt-extended checks this before the required claims: a token without them is refused here too.
    session_id = payload.get(SESSION_CLAIM)
    try:
        user_id = int(payload["sub"])
    except (KeyError, TypeError, ValueError):
        user_id = None
    if not isinstance(session_id, str) or user_id is None:
        g.refused_because = MISSING_CLAIMS
        return True
    session_revoked, user_exists = current_app.extensions[TOKEN_CHECKS_EXTENSION].ask(session_id, user_id)
    if not user_exists:
        g.refused_because = "The token's user no longer exists."
    return bool(session_revoked) or not user_exists


def _claims_as_sent() -> dict[str, Any]:
    """The token's claims before flask-jwt-extended fills in a missing ``type`` (as "access"). The token is already
    verified: its payload segment is read as it is, without checking it a second time."""
    token = request.headers.get("Authorization", "").partition(" ")[2].strip()
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


@jwt_manager.token_verification_loader
def _required_claims_present(_header: dict, payload: dict) -> bool:
    return (
        bool(payload.get("jti"))
        and isinstance(payload.get("exp"), int | float)
        and "sub" in payload
        and isinstance(payload.get(SESSION_CLAIM), str)
        and bool(payload[SESSION_CLAIM])
        and _claims_as_sent().get("type") in USER_TOKEN_TYPES
    )


@jwt_manager.unauthorized_loader
def _missing_token(reason: str):
    return _unauthorized("Authentication required: send 'Authorization: Bearer <access token>'.")


@jwt_manager.invalid_token_loader
def _invalid_token(reason: str):
    return _unauthorized(f"Invalid token: {reason}.")


@jwt_manager.expired_token_loader
def _expired_token(_header: dict, _payload: dict):
    return _unauthorized("The token has expired: refresh it or log in again.")


@jwt_manager.revoked_token_loader
def _revoked_token(_header: dict, _payload: dict):
    return _unauthorized(g.pop("refused_because", None) or "The token has been revoked: log in again.")


@jwt_manager.token_verification_failed_loader
def _verification_failed(_header: dict, _payload: dict):
    return _unauthorized(MISSING_CLAIMS)


@jwt_manager.needs_fresh_token_loader
def _needs_fresh(_header: dict, _payload: dict):
    return _unauthorized("A fresh token is required: log in again.")


@jwt_manager.user_lookup_error_loader
def _user_lookup_error(_header: dict, _payload: dict):
    return _unauthorized("The token's user no longer exists.")
