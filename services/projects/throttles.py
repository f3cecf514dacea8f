"""Attempt counters with growing lockouts (logins, registrations), counted by one atomic statement per attempt.

A key (e.g. ``login:<address>:<username>``) may be tried ``max_attempts`` times; the attempt that reaches that count
locks the key for ``block_s``, and each attempt after a lockout ends locks it again for twice as long (up to
``max_block_s``). Counts are forgotten ``window_s`` after a key's last attempt.

The attempt is counted *before* the caller checks anything (``reserve``), by a single
``INSERT … ON CONFLICT DO UPDATE SET attempts = attempts + 1 … WHERE blocked_until <= now RETURNING attempts``,
committed at once: on PostgreSQL concurrent statements on one key wait for each other's row lock, and SQLite runs
one write at a time, so 16 parallel attempts get 16 distinct counts and only ``max_attempts`` of them are let through.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sqlalchemy import case, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from services.projects.models import AuthThrottle
from shared.db import db


@dataclass(frozen=True)
class Limit:
    max_attempts: int
    block_s: float
    max_block_s: float
    window_s: float


def reserve(key: str, limit: Limit, now: float) -> int | None:
    """Count one attempt on ``key`` and commit; None if the attempt may go on, else the seconds until it may."""
    table = AuthThrottle.__table__
    forgotten = table.c.last_attempt_at < now - limit.window_s
    attempts = case((forgotten, 1), else_=table.c.attempts + 1)
    block_s = case((forgotten, limit.block_s), else_=table.c.next_block_s)
    locks = attempts >= limit.max_attempts
    doubled = case((block_s * 2 > limit.max_block_s, limit.max_block_s), else_=block_s * 2)
    first_locks = limit.max_attempts <= 1
    insert = (postgresql.insert if db.session.get_bind().dialect.name == "postgresql" else sqlite.insert)(table)
    statement = (
        insert.values(
            key=key,
            attempts=1,
            blocked_until=now + limit.block_s if first_locks else 0.0,
            next_block_s=min(limit.block_s * 2, limit.max_block_s) if first_locks else limit.block_s,
            last_attempt_at=now,
        )
        .on_conflict_do_update(
            index_elements=[table.c.key],
            set_={
                "attempts": attempts,
                "blocked_until": case((locks, now + block_s), else_=0.0),
                "next_block_s": case((locks, doubled), else_=block_s),
                "last_attempt_at": now,
            },
            where=table.c.blocked_until <= now,
        )
        .returning(table.c.attempts)
    )
    counted = db.session.execute(statement).scalar_one_or_none()
    if counted == 1:  # a key seen for the first time in a while: drop the ones nobody tried for a window
        db.session.execute(
            delete(AuthThrottle).where(
                AuthThrottle.last_attempt_at < now - limit.window_s, AuthThrottle.blocked_until <= now
            )
        )
    db.session.commit()
    if counted is not None:
        return None
    blocked_until = db.session.scalar(select(AuthThrottle.blocked_until).where(AuthThrottle.key == key)) or now
    db.session.rollback()
    return max(1, math.ceil(blocked_until - now))


def forget(key: str) -> None:
    """The key starts over (a successful login); the caller commits."""
    db.session.execute(delete(AuthThrottle).where(AuthThrottle.key == key))


def give_back(key: str) -> None:
    """Uncount one attempt that turned out fine (a successful login from an address that also failed others); the
    caller commits."""
    db.session.execute(
        update(AuthThrottle)
        .where(AuthThrottle.key == key, AuthThrottle.attempts > 0)
        .values(attempts=AuthThrottle.attempts - 1)
    )
