"""The life of a training run, as plain functions on the database.

    queued ──claim──▶ running ──▶ succeeded | failed | cancelled
      ▲                  │
      └── lease expired (sweep, while attempts remain) or the worker stopped (re-queue)

A worker claims a queued run atomically (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, and on every database an
``UPDATE … WHERE status = 'queued'`` whose row count says who won), which increments ``attempt`` and starts a lease
that its heartbeat renews. Every later write by that worker is fenced on ``(id, attempt, status = 'running')``: once
the lease expired and the run was re-queued or claimed again, a late write from the old attempt changes nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from services.trainer.metrics import count_finished_run
from services.trainer.model_registry import NewVersion, add_version, lock_project_models, next_version
from services.trainer.queue_signal import announce_queued_run
from services.trainer.training_jobs import TrainingResult
from shared.clock import utcnow
from shared.db import db
from shared.training_records import (
    RUN_CANCELLED,
    RUN_FAILED,
    RUN_QUEUED,
    RUN_RUNNING,
    RUN_SUCCEEDED,
    TrainingRun,
)

log = logging.getLogger(__name__)

CLAIM_TRIES = 5
SAVE_TRIES = 3


@dataclass(frozen=True)
class RunFence:
    """The claim a worker holds on a run: its writes count only while the run is still at this attempt."""

    run_id: int
    attempt: int
    # When this attempt started (the claim wrote it): what a finished run's duration is counted from.
    started_at: datetime | None = field(default=None, compare=False)


@dataclass(frozen=True)
class ClaimedRun:
    fence: RunFence
    project_id: int
    owner_id: int
    params: dict[str, Any]


@dataclass(frozen=True)
class Lease:
    cancel_requested: bool


def claim_next_run(worker_id: str, lease_seconds: float) -> ClaimedRun | None:
    """Take the oldest queued run for this worker, or None when there is none."""
    for _ in range(CLAIM_TRIES):
        candidate = db.session.execute(
            select(TrainingRun.id, TrainingRun.attempt)
            .where(TrainingRun.status == RUN_QUEUED)
            .order_by(TrainingRun.created_at, TrainingRun.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        ).first()
        if candidate is None:
            db.session.rollback()
            return None
        now = utcnow()
        attempt = candidate.attempt + 1
        claimed = db.session.execute(
            update(TrainingRun)
            .where(
                TrainingRun.id == candidate.id,
                TrainingRun.status == RUN_QUEUED,
                TrainingRun.attempt == candidate.attempt,
            )
            .values(
                status=RUN_RUNNING,
                stage="starting",
                progress=0.0,
                attempt=attempt,
                worker_id=worker_id,
                lease_expires_at=now + timedelta(seconds=lease_seconds),
                started_at=now,
            )
            .execution_options(synchronize_session=False)
        ).rowcount
        if claimed != 1:
            db.session.rollback()
            continue
        row = db.session.execute(
            select(TrainingRun.project_id, TrainingRun.owner_id, TrainingRun.params).where(
                TrainingRun.id == candidate.id
            )
        ).one()
        db.session.commit()
        log.info("claimed run %s (attempt %s)", candidate.id, attempt, extra={"run_id": candidate.id})
        return ClaimedRun(RunFence(candidate.id, attempt, now), row.project_id, row.owner_id, dict(row.params))
    return None


def _fenced(fence: RunFence) -> tuple[Any, ...]:
    return (TrainingRun.id == fence.run_id, TrainingRun.attempt == fence.attempt, TrainingRun.status == RUN_RUNNING)


def _fenced_update(fence: RunFence, values: dict[str, Any], what: str, commit: bool = True) -> bool:
    """Write ``values`` if the run is still at this attempt and running; otherwise roll back, log, and say False."""
    updated = db.session.execute(
        update(TrainingRun).where(*_fenced(fence)).values(**values).execution_options(synchronize_session=False)
    ).rowcount
    if updated != 1:
        db.session.rollback()
        _refused(fence, what)
        return False
    if commit:
        db.session.commit()
    return True


def _refused(fence: RunFence, what: str) -> None:
    log.warning(
        "refused %s from run %s attempt %s: the run moved on (lease lost, re-queued, cancelled or deleted)",
        what,
        fence.run_id,
        fence.attempt,
        extra={"run_id": fence.run_id},
    )


def renew_lease(
    fence: RunFence, lease_seconds: float, stage: str | None = None, progress: float | None = None
) -> Lease | None:
    """Extend the lease (and record progress); None when the fence no longer holds."""
    values: dict[str, Any] = {"lease_expires_at": utcnow() + timedelta(seconds=lease_seconds)}
    if stage is not None:
        values["stage"] = stage
    if progress is not None:
        values["progress"] = progress
    if not _fenced_update(fence, values, "a heartbeat", commit=False):
        return None
    cancel_requested = db.session.scalar(select(TrainingRun.cancel_requested).where(TrainingRun.id == fence.run_id))
    db.session.commit()
    return Lease(cancel_requested=bool(cancel_requested))


def finish_run(fence: RunFence, status: str, error_message: str | None = None) -> bool:
    """Mark the run failed or cancelled; False (and nothing changed) when the fence no longer holds."""
    finished_at = utcnow()
    values = {
        "status": status,
        "stage": status,
        "finished_at": finished_at,
        "lease_expires_at": None,
        "error": {"message": error_message} if error_message else None,
    }
    if not _fenced_update(fence, values, f"marking it {status}"):
        return False
    count_finished_run(status, fence.started_at, finished_at)
    return True


def requeue_run(fence: RunFence) -> bool:
    """Give the run back to the queue (its worker is stopping); False when the fence no longer holds."""
    values = {"status": RUN_QUEUED, "stage": "queued", "progress": 0.0, "worker_id": None, "lease_expires_at": None}
    if not _fenced_update(fence, values, "re-queueing it", commit=False):
        return False
    announce_queued_run()
    db.session.commit()
    return True


def record_success(fence: RunFence, result: TrainingResult, target: str) -> int | None:
    """In one transaction: a new model version (serving, if the run's activation says so) and the run succeeded.
    The version, or None if fenced out."""
    for _ in range(SAVE_TRIES):
        project_id, owner_id = db.session.execute(
            select(TrainingRun.project_id, TrainingRun.owner_id).where(TrainingRun.id == fence.run_id)
        ).one_or_none() or (None, None)
        if project_id is None:
            db.session.rollback()
            _refused(fence, "its model")
            return None
        lock_project_models(project_id)
        version = next_version(project_id, owner_id)
        finished_at = utcnow()
        succeeded = {
            "status": RUN_SUCCEEDED,
            "stage": RUN_SUCCEEDED,
            "progress": 1.0,
            "finished_at": finished_at,
            "lease_expires_at": None,
            "error": None,
            "leaderboard": result.leaderboard,
            "model_version": version,
            "activation": result.activation,
        }
        if not _fenced_update(fence, succeeded, "its model", commit=False):
            return None
        add_version(
            NewVersion(project_id, owner_id, version, fence.run_id, target, result),
            current_app.config["MODEL_SIGNING_KEY"],
            active=result.activates,
        )
        try:
            db.session.commit()
        except IntegrityError:
            # Another run of this project saved the same version number first; count again.
            db.session.rollback()
            continue
        count_finished_run(RUN_SUCCEEDED, fence.started_at, finished_at)
        return version
    raise RuntimeError(f"could not save the model of run {fence.run_id}: version numbers kept colliding")


def sweep_expired_leases(max_attempts: int) -> int:
    """Re-queue (or fail, after ``max_attempts``) running runs whose worker stopped renewing the lease."""
    now = utcnow()
    expired = db.session.execute(
        select(TrainingRun.id, TrainingRun.attempt, TrainingRun.cancel_requested, TrainingRun.started_at).where(
            TrainingRun.status == RUN_RUNNING, TrainingRun.lease_expires_at < now
        )
    ).all()
    swept = 0
    finished: list[tuple[str, datetime | None]] = []
    for run_id, attempt, cancel_requested, started_at in expired:
        fence = RunFence(run_id, attempt, started_at)
        if cancel_requested:
            values: dict[str, Any] = {"status": RUN_CANCELLED, "stage": RUN_CANCELLED, "finished_at": now}
        elif attempt >= max_attempts:
            values = {
                "status": RUN_FAILED,
                "stage": RUN_FAILED,
                "finished_at": now,
                "error": {
                    "message": f"the training was interrupted {attempt} times (its worker stopped); try again, with "
                    "fewer models or a smaller dataset if it keeps happening"
                },
            }
        else:
            values = {"status": RUN_QUEUED, "stage": "queued", "progress": 0.0, "worker_id": None}
        values["lease_expires_at"] = None
        updated = db.session.execute(
            update(TrainingRun)
            .where(*_fenced(fence), TrainingRun.lease_expires_at < now)
            .values(**values)
            .execution_options(synchronize_session=False)
        ).rowcount
        if updated == 1:
            swept += 1
            if values["status"] == RUN_QUEUED:
                announce_queued_run()
            else:
                finished.append((values["status"], started_at))
            log.warning(
                "run %s attempt %s lost its worker: %s", run_id, attempt, values["status"], extra={"run_id": run_id}
            )
    db.session.commit()
    for status, started_at in finished:
        count_finished_run(status, started_at, now)
    return swept
