"""Time in UTC, always timezone-aware (SQLite gives back naive datetimes; PostgreSQL aware ones)."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(moment: datetime | None) -> datetime | None:
    """``moment`` with its UTC offset; a naive datetime (read from SQLite) is taken to be UTC."""
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment
