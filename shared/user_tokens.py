"""User access/refresh tokens (flask-jwt-extended): one setup for the gateway and the projects service.

Fixed algorithm, ``exp`` and ``jti`` required, revocation stored in the database (table ``revoked_tokens``,
migrated by the projects service) so a logout survives restarts, and every failure is a 401 in the error shape.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask
from flask_jwt_extended import JWTManager
from sqlalchemy import DateTime, String
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import db
from shared.errors import error_response

JWT_ALGORITHM = "HS256"

jwt_manager = JWTManager()


class RevokedToken(db.Model):
    __tablename__ = "revoked_tokens"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


def is_revoked(jti: str) -> bool:
    return db.session.get(RevokedToken, jti) is not None


def revoke(jwt_payload: dict[str, Any]) -> None:
    """Store the token's jti until it would have expired anyway (the caller commits)."""
    jti = jwt_payload["jti"]
    if db.session.get(RevokedToken, jti) is None:
        expires_at = datetime.fromtimestamp(jwt_payload["exp"], tz=UTC)
        db.session.add(RevokedToken(jti=jti, expires_at=expires_at))


def init_user_tokens(app: Flask) -> None:
    config = app.config
    app.config.update(
        JWT_SECRET_KEY=config["JWT_SECRET_KEY"],
        JWT_ALGORITHM=JWT_ALGORITHM,
        JWT_DECODE_ALGORITHMS=[JWT_ALGORITHM],
        JWT_TOKEN_LOCATION=["headers"],
        JWT_ACCESS_TOKEN_EXPIRES=timedelta(minutes=config["ACCESS_TOKEN_MINUTES"]),
        JWT_REFRESH_TOKEN_EXPIRES=timedelta(days=config["REFRESH_TOKEN_DAYS"]),
        JWT_ERROR_MESSAGE_KEY="message",
    )
    jwt_manager.init_app(app)


def _unauthorized(message: str):
    return error_response(401, message)


@jwt_manager.token_in_blocklist_loader
def _token_revoked(_header: dict, payload: dict) -> bool:
    return is_revoked(payload["jti"])


@jwt_manager.token_verification_loader
def _required_claims_present(_header: dict, payload: dict) -> bool:
    return bool(payload.get("jti")) and isinstance(payload.get("exp"), int | float) and "sub" in payload


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
    return _unauthorized("The token has been revoked: log in again.")


@jwt_manager.token_verification_failed_loader
def _verification_failed(_header: dict, _payload: dict):
    return _unauthorized("Invalid token: required claims (exp, jti, sub) are missing.")


@jwt_manager.needs_fresh_token_loader
def _needs_fresh(_header: dict, _payload: dict):
    return _unauthorized("A fresh token is required: log in again.")


@jwt_manager.user_lookup_error_loader
def _user_lookup_error(_header: dict, _payload: dict):
    return _unauthorized("The token's user no longer exists.")
