"""The trainer's own Prometheus metrics (each app's request metrics are ``shared.metrics``').

Runs reach their final status in the training worker (and in the trainer service when a queued run is cancelled);
each process counts what it did. A worker serves its metrics on ``WORKER_METRICS_ADDRESS``, the service at
``/metrics`` with the queue depth read from the database when scraped: Prometheus adds up the processes.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime

from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from shared.clock import as_utc
from shared.db import db
from shared.training_records import RUN_QUEUED, TrainingRun

log = logging.getLogger(__name__)

HEARTBEAT_RENEWED = "renewed"
HEARTBEAT_LOST = "lost"
HEARTBEAT_FAILED = "failed"

TRAINING_RUNS = Counter(
    "trainer_training_runs", "Training runs that reached a final status, by that status.", ("status",)
)
TRAINING_RUN_DURATION = Histogram(
    "trainer_training_run_duration_seconds",
    "Seconds from the claim of a finished run's last attempt to its final status, by that status.",
    ("status",),
    buckets=(10, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200),
)
WORKER_HEARTBEATS = Counter(
    "trainer_worker_heartbeats",
    "Lease renewals of the runs workers are training, by result: renewed, lost (the run moved on without the "
    "worker) or failed (the database did not answer).",
    ("result",),
)


def count_finished_run(status: str, started_at: datetime | None, finished_at: datetime) -> None:
    """A run reached ``status``; ``started_at`` is its last claim (None for a run cancelled before any)."""
    TRAINING_RUNS.labels(status).inc()
    if started_at is not None:
        TRAINING_RUN_DURATION.labels(status).observe((as_utc(finished_at) - as_utc(started_at)).total_seconds())


class QueueDepth:
    """``trainer_queued_runs``, counted in the database at each scrape (so every process tells the same)."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            queued = db.session.scalar(select(func.count()).where(TrainingRun.status == RUN_QUEUED))
        except SQLAlchemyError:
            db.session.rollback()
            log.warning("could not count the queued runs for the metrics", exc_info=True)
            return
        yield GaugeMetricFamily("trainer_queued_runs", "Training runs waiting for a worker.", value=queued)
