"""User accounts: registration, password checks with a lockout after repeated failures."""

from __future__ import annotations

import functools
import math
import secrets
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from werkzeug.security import check_password_hash, generate_password_hash

from services.projects.models import User
from shared.clock import as_utc, utcnow
from shared.db import db
from shared.domain_errors import DomainError

PASSWORD_HASH_METHOD = "scrypt"


class UsernameTaken(DomainError):
    message = "This username is already taken."


class InvalidCredentials(DomainError):
    message = "Invalid username or password."


class AccountLocked(DomainError):
    message = "Too many failed logins: this account is locked for a while."

    def __init__(self, retry_after_seconds: int) -> None:
        super().__init__(headers={"Retry-After": str(retry_after_seconds)})
        self.retry_after_seconds = retry_after_seconds


class UserNotFound(DomainError):
    message = "The token's user no longer exists."


@functools.cache
def _unknown_user_hash() -> str:
    """A hash that no password matches, checked for unknown users so they cost the same time as known ones."""
    return generate_password_hash(secrets.token_urlsafe(32), method=PASSWORD_HASH_METHOD)


def register_user(username: str, password: str) -> User:
    user = User(username=username, password_hash=generate_password_hash(password, method=PASSWORD_HASH_METHOD))
    db.session.add(user)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise UsernameTaken() from None
    return user


def authenticate(username: str, password: str, max_failures: int, lockout_seconds: int) -> User:
    """The user whose password this is; raises ``InvalidCredentials`` (the same for an unknown user) or
    ``AccountLocked`` once ``max_failures`` consecutive failures locked the account for ``lockout_seconds``."""
    # The row lock counts concurrent guesses one after the other, so parallel attempts cannot skip the lockout.
    user = db.session.execute(select(User).where(User.username == username).with_for_update()).scalar_one_or_none()
    if user is None:
        check_password_hash(_unknown_user_hash(), password)
        db.session.rollback()
        raise InvalidCredentials()
    now = utcnow()
    locked_until = as_utc(user.locked_until)
    if locked_until is not None and locked_until > now:
        db.session.rollback()
        raise AccountLocked(math.ceil((locked_until - now).total_seconds()))
    if not check_password_hash(user.password_hash, password):
        user.failed_logins += 1
        if user.failed_logins >= max_failures:
            user.failed_logins = 0
            user.locked_until = now + timedelta(seconds=lockout_seconds)
        db.session.commit()
        raise InvalidCredentials()
    user.failed_logins = 0
    user.locked_until = None
    db.session.commit()
    return user


def get_user(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        raise UserNotFound()
    return user
