"""PostgreSQL databases for the tests, the benchmark and ``make stack``: throwaway ones, and one made if missing."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, create_engine, make_url, text

from shared.config import normalize_database_url
from shared.migrate import upgrade

LOCAL_POSTGRES_SERVER = "postgresql://postgres@127.0.0.1:5432"


def _server_engine(url: str) -> Engine:
    """The server of ``url`` through its ``postgres`` database, for CREATE and DROP DATABASE."""
    server = make_url(normalize_database_url(url)).set(database="postgres")
    return create_engine(server, isolation_level="AUTOCOMMIT")


@contextmanager
def unused_database(server: str, prefix: str) -> Iterator[str]:
    """The URL of a database on ``server`` (``postgresql://user@host:port``) that does not exist yet, dropped at the
    end if something made it."""
    url = normalize_database_url(f"{server}/{prefix}_{uuid.uuid4().hex[:12]}")
    try:
        yield url
    finally:
        admin = _server_engine(server)
        with admin.connect() as connection:
            name = admin.dialect.identifier_preparer.quote_identifier(make_url(url).database)
            connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


@contextmanager
def throwaway_database(server: str, prefix: str) -> Iterator[str]:
    """A new, migrated database on ``server`` (``postgresql://user@host:port``), dropped at the end."""
    with unused_database(server, prefix) as url:
        create_database_if_missing(url)
        upgrade(url)
        yield url


def create_database_if_missing(url: str) -> bool:
    """Create the PostgreSQL database ``url`` names unless it exists; whether it was created now."""
    name = make_url(normalize_database_url(url)).database
    admin = _server_engine(url)
    try:
        with admin.connect() as connection:
            if connection.execute(text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}).first():
                return False
            connection.execute(text(f"CREATE DATABASE {admin.dialect.identifier_preparer.quote_identifier(name)}"))
            return True
    finally:
        admin.dispose()
