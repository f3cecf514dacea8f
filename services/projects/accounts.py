"""User accounts: registration and password checks, both throttled per client address (``throttles``).

A login counts against its username *and* client address (``LOGIN_MAX_FAILURES``), and against the address over
every username (``LOGIN_MAX_FAILURES_PER_ADDRESS``), before the password is checked: a stranger's failures lock
only the stranger's address out, never the owner logging in from elsewhere, and parallel guesses cannot get past
the count. An unknown username is counted and hashed exactly like a known one, so the answers (401, then 429) and
their cost tell nothing about which accounts exist. Registrations count per address (``REGISTRATIONS_PER_ADDRESS``).
"""

from __future__ import annotations

import functools
import secrets
import time
from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from werkzeug.security import check_password_hash, generate_password_hash

from services.projects import throttles
from services.projects.models import User
from shared.db import db
from shared.domain_errors import DomainError

PASSWORD_HASH_METHOD = "scrypt"
# Stands for the address of a call that did not come from a client through the gateway.
NO_ADDRESS = "-"


class UsernameTaken(DomainError):
    message = "This username is already taken."


class InvalidCredentials(DomainError):
    message = "Invalid username or password."


class TooManyAttempts(DomainError):
    """Logins (or registrations) from this client address are locked out for ``retry_after_seconds``."""

    def __init__(self, message: str, retry_after_seconds: int) -> None:
        super().__init__(message, headers={"Retry-After": str(retry_after_seconds)})
        self.retry_after_seconds = retry_after_seconds


class UserNotFound(DomainError):
    message = "The token's user no longer exists."


@functools.cache
def _unknown_user_hash() -> str:
    """A hash that no password matches, checked for unknown users so they cost the same time as known ones."""
    return generate_password_hash(secrets.token_urlsafe(32), method=PASSWORD_HASH_METHOD)


def _limit(config: Mapping[str, Any], max_attempts: int) -> throttles.Limit:
    return throttles.Limit(
        max_attempts=max_attempts,
        block_s=config["LOGIN_LOCKOUT_SECONDS"],
        max_block_s=config["LOGIN_LOCKOUT_MAX_SECONDS"],
        window_s=config["THROTTLE_WINDOW_SECONDS"],
    )


def _username_key(username: str) -> str:
    return username.lower()


def register_user(username: str, password: str, client_address: str | None, config: Mapping[str, Any]) -> User:
    """A new account; ``TooManyAttempts`` once the address registered ``REGISTRATIONS_PER_ADDRESS`` of them."""
    if client_address is not None:
        retry_after = throttles.reserve(
            f"register:{client_address}", _limit(config, config["REGISTRATIONS_PER_ADDRESS"]), time.time()
        )
        if retry_after is not None:
            raise TooManyAttempts("Too many registrations from your address: retry later.", retry_after)
    user = User(username=username, password_hash=generate_password_hash(password, method=PASSWORD_HASH_METHOD))
    db.session.add(user)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise UsernameTaken() from None
    return user


def authenticate(username: str, password: str, client_address: str | None, config: Mapping[str, Any]) -> User:
    """The user whose password this is; ``InvalidCredentials`` (the same for an unknown user) or, once the
    username from this address or the address itself used up its attempts, ``TooManyAttempts``."""
    address = client_address or NO_ADDRESS
    now = time.time()
    address_key = f"login:{address}"
    user_key = f"login:{address}:{_username_key(username)}"
    counted = [(user_key, _limit(config, config["LOGIN_MAX_FAILURES"]))]
    if client_address is not None:
        counted.insert(0, (address_key, _limit(config, config["LOGIN_MAX_FAILURES_PER_ADDRESS"])))
    for key, limit in counted:
        retry_after = throttles.reserve(key, limit, now)
        if retry_after is not None:
            raise TooManyAttempts("Too many failed logins: retry after the Retry-After header's seconds.", retry_after)
    user = find_by_username(username)
    if user is None or not check_password_hash(user.password_hash, password):
        if user is None:
            check_password_hash(_unknown_user_hash(), password)
        db.session.rollback()
        raise InvalidCredentials()
    throttles.forget(user_key)
    if client_address is not None:
        throttles.give_back(address_key)
    db.session.commit()
    return user


def find_by_username(username: str) -> User | None:
    """The account of this name, whatever its case (usernames are ASCII: SQL's lower() agrees with Python's)."""
    return db.session.execute(
        select(User).where(func.lower(User.username) == _username_key(username))
    ).scalar_one_or_none()


def get_user(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        raise UserNotFound()
    return user
