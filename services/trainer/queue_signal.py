"""Waking idle workers the moment a run is queued: PostgreSQL's LISTEN/NOTIFY, with the poll as the fallback.

Whoever queues (or re-queues) a run calls ``announce_queued_run()`` inside its transaction; PostgreSQL delivers the
notification when that transaction commits. An idle worker waits in ``QueueSignal.wait(timeout)``, which returns as
soon as a notification arrives, or after ``timeout`` (``WORKER_POLL_SECONDS``) as before. On SQLite, or when the
listening connection cannot be made or breaks, it only waits out the timeout: the poll never stops.
"""

from __future__ import annotations

import logging
import select
import threading
import time
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import make_url

from shared.db import db

log = logging.getLogger(__name__)

CHANNEL = "salesml_training_runs_queued"
# After a failed attempt to listen, poll this long before trying again (and logging again).
RETRY_LISTEN_SECONDS = 30.0


def announce_queued_run() -> None:
    """Tell listening workers that a run is queued, once the current transaction commits (PostgreSQL only)."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text(f"NOTIFY {CHANNEL}"))


class QueueSignal:
    """A worker's own listening connection to the database (``database_url``), opened on first use."""

    def __init__(self, database_url: str, stop: threading.Event) -> None:
        self.listens = make_url(database_url).get_backend_name() == "postgresql"
        self.database_url = database_url
        self.stop = stop
        self._connection: Any = None
        self._retry_at = 0.0

    def listen(self) -> None:
        """Start listening now: a run announced from here on wakes the next ``wait``, even one announced before it."""
        if self.listens:
            self._listening()

    def wait(self, timeout: float) -> bool:
        """Wait until a run is announced (True), the timeout passes or the worker is asked to stop (False)."""
        connection = self._listening() if self.listens else None
        if connection is None:
            self.stop.wait(timeout)
            return False
        try:
            readable, _, _ = select.select([connection], [], [], timeout)
            if not readable:
                return False
            connection.poll()
            announced = bool(connection.notifies)
            connection.notifies.clear()
            return announced
        except Exception as exc:  # a lost connection: poll until it can be opened again
            log.warning("listening for queued runs failed (%s); polling until it works again", exc)
            self.close()
            self._retry_at = time.monotonic() + RETRY_LISTEN_SECONDS
            self.stop.wait(timeout)
            return False

    def _listening(self) -> Any:
        if self._connection is None and time.monotonic() >= self._retry_at:
            try:
                import psycopg2

                url = make_url(self.database_url).set(drivername="postgresql")
                connection = psycopg2.connect(url.render_as_string(hide_password=False), connect_timeout=3)
                connection.autocommit = True
                with connection.cursor() as cursor:
                    cursor.execute(f"LISTEN {CHANNEL}")
                self._connection = connection
            except Exception as exc:
                log.warning("cannot listen for queued runs (%s); polling instead", exc)
                self._retry_at = time.monotonic() + RETRY_LISTEN_SECONDS
        return self._connection

    def close(self) -> None:
        if self._connection is not None:
            try:
                self._connection.close()
            except Exception:  # closing a broken connection may fail too; it is gone either way
                pass
            self._connection = None
