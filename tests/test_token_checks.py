"""The revocation question every authenticated request asks (``shared.user_tokens.TokenChecks``), on PostgreSQL and
on SQLite (``make run``): the right answer, a dropped connection replaced without failing the request, and any other
database error raised as SQLAlchemy raises it (the apps answer it with a JSON 503)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from shared.db import engine_options
from shared.migrate import upgrade
from shared.user_tokens import TokenChecks


@pytest.fixture(params=["postgresql", "sqlite"])
def database(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:
    url = request.getfixturevalue("clean_database") if request.param == "postgresql" else f"sqlite:///{tmp_path}/t.db"
    if request.param == "sqlite":
        upgrade(url)
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO users (id, username, password_hash, created_at) "
                "VALUES (7, 'ana', 'x', '2024-01-01 00:00:00')"
            )
        )
        connection.execute(
            text("INSERT INTO revoked_sessions (session_id, expires_at) VALUES ('ended', '2099-01-01 00:00:00')")
        )
    engine.dispose()
    yield url


def test_the_answer_is_whether_the_session_ended_and_whether_the_user_exists(database):
    checks = TokenChecks(database, {})
    assert checks.ask("live", 7) == (False, True)
    assert checks.ask("ended", 7) == (True, True)
    assert checks.ask("live", 8) == (False, False)
    assert checks.ask("ended", 8) == (True, False)


def test_connections_the_database_dropped_are_replaced_and_the_question_asked_again(clean_database):
    """A restarted database leaves every pooled connection dead: the question is asked once more on a new one."""
    checks = TokenChecks(clean_database, {"pool_size": 3})
    held = [checks.engine.connect() for _ in range(3)]  # three connections in the pool once they are given back
    pids = [connection.connection.dbapi_connection.get_backend_pid() for connection in held]
    for connection in held:
        connection.close()
    admin = create_engine(clean_database)
    with admin.begin() as connection:
        for pid in pids:
            connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    admin.dispose()
    for _ in range(3):
        assert checks.ask("live", 7) == (False, False)
    with checks.engine.connect() as connection:
        assert connection.connection.dbapi_connection.get_backend_pid() not in pids


def test_as_many_connections_as_threads_asking_at_once_are_kept_for_the_next_questions(clean_database):
    """The apps' own pool keeps 5 (``shared.db.engine_options``); a gateway process has 8 or more threads asking."""
    checks = TokenChecks(clean_database, engine_options(clean_database))
    held = [checks.engine.connect() for _ in range(12)]  # twelve threads in the middle of a question
    pids = {connection.connection.dbapi_connection.get_backend_pid() for connection in held}
    for connection in held:
        connection.close()
    assert checks.engine.pool.checkedin() == 12
    answered_on = set()
    for _ in range(12):
        with checks.engine.connect() as connection:
            answered_on.add(connection.connection.dbapi_connection.get_backend_pid())
        assert checks.ask("live", 7) == (False, False)
    assert answered_on <= pids


def test_another_database_error_is_raised_as_sqlalchemy_raises_it(tmp_path):
    checks = TokenChecks(f"sqlite:///{tmp_path}/empty.db", {})  # no tables: the question itself fails
    with pytest.raises(OperationalError, match="no such table"):
        checks.ask("live", 7)
