"""Throwaway PostgreSQL databases for the tests and the benchmark."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, text

from shared.config import normalize_database_url
from shared.migrate import upgrade

LOCAL_POSTGRES_SERVER = "postgresql://postgres@127.0.0.1:5432"


@contextmanager
def throwaway_database(server: str, prefix: str) -> Iterator[str]:
    """A new, migrated database on ``server`` (``postgresql://user@host:port``), dropped at the end."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(normalize_database_url(f"{server}/postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = normalize_database_url(f"{server}/{name}")
    try:
        upgrade(url)
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
