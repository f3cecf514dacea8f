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
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from flask import current_app
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.exc import IntegrityError

from services.trainer.automl import TrainingResult
from services.trainer.training_input import (
    categorical_features,
    fetch_training_input,
    ignored_features,
    problems_with_dataset,
)
from shared.clock import utcnow
from shared.db import db
from shared.domain_errors import DomainError
from shared.model_artifacts import artifact_hmac, library_versions, sha256_hex
from shared.training_records import (
    ACTIVE_RUN_STATUSES,
    FINISHED_RUN_STATUSES,
    RUN_CANCELLED,
    RUN_FAILED,
    RUN_QUEUED,
    RUN_RUNNING,
    RUN_SUCCEEDED,
    ModelVersion,
    TrainingRun,
)

log = logging.getLogger(__name__)

CLAIM_TRIES = 5
SAVE_TRIES = 3


class TooManyActiveRuns(DomainError):
    """The user already has the allowed number of queued and running runs."""

    def __init__(self, cap: int) -> None:
        super().__init__(
            f"You already have {cap} training runs queued or running; wait for one to finish or cancel one."
        )


class IdempotencyKeyReused(DomainError):
    """The Idempotency-Key was already used by this user for a request on another project."""

    message = "This Idempotency-Key was already used for another project's run."


class RunAlreadyFinished(DomainError):
    """A finished run cannot be cancelled."""

    def __init__(self, status: str) -> None:
        super().__init__(f"This run already finished ({status}); there is nothing to cancel.")


class UntrainableRequest(DomainError):
    """The dataset cannot be trained with the requested parameters; ``errors`` says why, per field."""

    def __init__(self, problems: dict[str, list[str]]) -> None:
        super().__init__("This dataset cannot be trained with these settings.", problems)


@dataclass(frozen=True)
class RunFence:
    """The claim a worker holds on a run: its writes count only while the run is still at this attempt."""

    run_id: int
    attempt: int


@dataclass(frozen=True)
class ClaimedRun:
    fence: RunFence
    project_id: int
    owner_id: int
    params: dict[str, Any]


@dataclass(frozen=True)
class Lease:
    cancel_requested: bool


# --- the API's side -------------------------------------------------------------------------------------------------


def find_run(owner_id: int, project_id: int, run_id: int) -> TrainingRun | None:
    return db.session.scalar(
        select(TrainingRun).where(
            TrainingRun.id == run_id, TrainingRun.project_id == project_id, TrainingRun.owner_id == owner_id
        )
    )


def list_runs(owner_id: int, project_id: int, offset: int, limit: int) -> tuple[list[TrainingRun], int]:
    """A page of the project's runs, newest first, and how many there are."""
    where = (TrainingRun.project_id == project_id, TrainingRun.owner_id == owner_id)
    total = db.session.scalar(select(func.count()).select_from(TrainingRun).where(*where)) or 0
    runs = db.session.scalars(
        select(TrainingRun)
        .where(*where)
        .order_by(TrainingRun.created_at.desc(), TrainingRun.id.desc())
        .offset(offset)
        .limit(limit)
    ).all()
    return list(runs), total


def find_run_by_idempotency_key(owner_id: int, key: str) -> TrainingRun | None:
    return db.session.scalar(
        select(TrainingRun).where(TrainingRun.owner_id == owner_id, TrainingRun.idempotency_key == key)
    )


def existing_run_for_key(owner_id: int, project_id: int, key: str | None) -> TrainingRun | None:
    """The run an earlier request with this Idempotency-Key created, if any."""
    if not key:
        return None
    run = find_run_by_idempotency_key(owner_id, key)
    if run is not None and run.project_id != project_id:
        raise IdempotencyKeyReused()
    return run


def queue_run(
    owner_id: int, project_id: int, request: dict[str, Any], idempotency_key: str | None, config: Mapping[str, Any]
) -> TrainingRun:
    """Check the request against the project's dataset and queue a run (or return the one this key already made).

    ``request`` is the validated train body; ``config`` the trainer's settings. Raises the projects service's refusals
    (``ProjectNotFound``, ``DatasetNotFound``, ``ProjectHasNoDataset``, ``UpstreamFailure``), ``IdempotencyKeyReused``,
    ``UntrainableRequest`` and ``TooManyActiveRuns``.
    """
    existing = existing_run_for_key(owner_id, project_id, idempotency_key)
    if existing is not None:
        return existing
    training_input = fetch_training_input(project_id, owner_id, request.get("dataset_id"))
    target = request.get("target") or training_input.target
    ignored = ignored_features(training_input, target, request.get("ignore_features"))
    problems = problems_with_dataset(
        training_input,
        target,
        request["folds"],
        config["TRAINING_MIN_ROWS"],
        config["TRAINING_MAX_MISSING_TARGET_SHARE"],
        request.get("ignore_features"),
        request.get("categorical_features"),
        [entry["column"] for entry in ignored],
    )
    if problems:
        raise UntrainableRequest(problems)
    params = {
        "target": target,
        "include": request.get("include"),
        "exclude": request.get("exclude"),
        "ignore_features": request.get("ignore_features"),
        "ignored_features": ignored,
        "categorical_features": request.get("categorical_features"),
        "made_categorical": categorical_features(training_input, target, request.get("categorical_features")),
        "folds": request["folds"],
        "sort": request["sort"],
        "time_budget_s": request.get("time_budget_s", config["TRAINING_DEFAULT_TIME_BUDGET_S"]),
        "seed": request["seed"],
        "object_key": training_input.object_key,
    }
    return create_run(
        owner_id,
        project_id,
        training_input.dataset_id,
        params,
        idempotency_key,
        config["TRAINING_MAX_ACTIVE_RUNS_PER_USER"],
    )


def create_run(
    owner_id: int,
    project_id: int,
    dataset_id: str,
    params: dict[str, Any],
    idempotency_key: str | None,
    max_active_runs: int,
) -> TrainingRun:
    """Queue a run, unless the user is at the cap; a concurrent request with the same key gets the same run."""
    _lock_user_runs(owner_id)
    active = db.session.scalar(
        select(func.count())
        .select_from(TrainingRun)
        .where(TrainingRun.owner_id == owner_id, TrainingRun.status.in_(ACTIVE_RUN_STATUSES))
    )
    if (active or 0) >= max_active_runs:
        db.session.rollback()
        raise TooManyActiveRuns(max_active_runs)
    run = TrainingRun(
        project_id=project_id,
        owner_id=owner_id,
        dataset_id=dataset_id,
        status=RUN_QUEUED,
        stage="queued",
        progress=0.0,
        attempt=0,
        params=params,
        idempotency_key=idempotency_key or None,
        cancel_requested=False,
    )
    db.session.add(run)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        existing = existing_run_for_key(owner_id, project_id, idempotency_key)
        if existing is None:
            raise
        return existing
    return run


def _lock_user_runs(owner_id: int) -> None:
    """Serialize run creation per user on PostgreSQL, so two concurrent requests cannot both pass the cap."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(
            text("SELECT pg_advisory_xact_lock(:namespace, :owner)"), {"namespace": 7301, "owner": owner_id}
        )


def request_cancel(run: TrainingRun) -> TrainingRun:
    """A queued run is cancelled at once; a running one is flagged and its worker kills the training."""
    if run.status in FINISHED_RUN_STATUSES:
        raise RunAlreadyFinished(run.status)
    now = utcnow()
    cancelled_while_queued = db.session.execute(
        update(TrainingRun)
        .where(TrainingRun.id == run.id, TrainingRun.status == RUN_QUEUED)
        .values(status=RUN_CANCELLED, stage="cancelled", finished_at=now, cancel_requested=True)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not cancelled_while_queued:
        db.session.execute(
            update(TrainingRun)
            .where(TrainingRun.id == run.id, TrainingRun.status == RUN_RUNNING)
            .values(cancel_requested=True)
            .execution_options(synchronize_session=False)
        )
    db.session.commit()
    db.session.refresh(run)
    if run.status in (RUN_SUCCEEDED, RUN_FAILED):
        raise RunAlreadyFinished(run.status)
    return run


def delete_project_training(owner_id: int, project_id: int) -> None:
    """Remove the project's runs and models; a worker training one of them loses its fence and kills the training."""
    db.session.execute(
        delete(TrainingRun).where(TrainingRun.project_id == project_id, TrainingRun.owner_id == owner_id)
    )
    db.session.execute(
        delete(ModelVersion).where(ModelVersion.project_id == project_id, ModelVersion.owner_id == owner_id)
    )
    db.session.commit()


def list_models(owner_id: int, project_id: int, offset: int, limit: int) -> tuple[list[ModelVersion], int]:
    """A page of the project's model versions, newest first, and how many there are."""
    where = (ModelVersion.project_id == project_id, ModelVersion.owner_id == owner_id)
    total = db.session.scalar(select(func.count()).select_from(ModelVersion).where(*where)) or 0
    models = db.session.scalars(
        select(ModelVersion).where(*where).order_by(ModelVersion.version.desc()).offset(offset).limit(limit)
    ).all()
    return list(models), total


def find_model(owner_id: int, project_id: int, version: int) -> ModelVersion | None:
    return db.session.scalar(
        select(ModelVersion).where(
            ModelVersion.project_id == project_id,
            ModelVersion.owner_id == owner_id,
            ModelVersion.version == version,
        )
    )


def _lock_project_models(project_id: int) -> None:
    """Serialize changes to which version is active (activations, new models) within one project."""
    db.session.execute(select(ModelVersion.id).where(ModelVersion.project_id == project_id).with_for_update())


def activate_model(model: ModelVersion) -> ModelVersion:
    """Make this version the one that serves the project (exactly one is active)."""
    _lock_project_models(model.project_id)
    db.session.execute(
        update(ModelVersion)
        .where(ModelVersion.project_id == model.project_id, ModelVersion.active.is_(True), ModelVersion.id != model.id)
        .values(active=False)
        .execution_options(synchronize_session=False)
    )
    db.session.execute(
        update(ModelVersion)
        .where(ModelVersion.id == model.id)
        .values(active=True)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    db.session.refresh(model)
    return model


# --- the worker's side ----------------------------------------------------------------------------------------------


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
        return ClaimedRun(RunFence(candidate.id, attempt), row.project_id, row.owner_id, dict(row.params))
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
    values = {
        "status": status,
        "stage": status,
        "finished_at": utcnow(),
        "lease_expires_at": None,
        "error": {"message": error_message} if error_message else None,
    }
    return _fenced_update(fence, values, f"marking it {status}")


def requeue_run(fence: RunFence) -> bool:
    """Give the run back to the queue (its worker is stopping); False when the fence no longer holds."""
    values = {"status": RUN_QUEUED, "stage": "queued", "progress": 0.0, "worker_id": None, "lease_expires_at": None}
    return _fenced_update(fence, values, "re-queueing it")


def record_success(fence: RunFence, result: TrainingResult, target: str) -> int | None:
    """In one transaction: a new active model version and the run succeeded. The version, or None if fenced out."""
    for _ in range(SAVE_TRIES):
        project_id, owner_id = db.session.execute(
            select(TrainingRun.project_id, TrainingRun.owner_id).where(TrainingRun.id == fence.run_id)
        ).one_or_none() or (None, None)
        if project_id is None:
            db.session.rollback()
            _refused(fence, "its model")
            return None
        _lock_project_models(project_id)
        latest = db.session.scalar(select(func.max(ModelVersion.version)).where(ModelVersion.project_id == project_id))
        version = (latest or 0) + 1
        succeeded = {
            "status": RUN_SUCCEEDED,
            "stage": RUN_SUCCEEDED,
            "progress": 1.0,
            "finished_at": utcnow(),
            "lease_expires_at": None,
            "error": None,
            "leaderboard": result.leaderboard,
            "model_version": version,
        }
        if not _fenced_update(fence, succeeded, "its model", commit=False):
            return None
        db.session.execute(
            update(ModelVersion)
            .where(ModelVersion.project_id == project_id, ModelVersion.active.is_(True))
            .values(active=False)
            .execution_options(synchronize_session=False)
        )
        db.session.add(
            ModelVersion(
                project_id=project_id,
                owner_id=owner_id,
                version=version,
                algorithm=result.algorithm,
                target=target,
                training_run_id=fence.run_id,
                active=True,
                size_bytes=len(result.artifact),
                sha256=sha256_hex(result.artifact),
                artifact_hmac=artifact_hmac(result.artifact, current_app.config["MODEL_SIGNING_KEY"]),
                artifact=result.artifact,
                library_versions=library_versions(),
                metrics=result.metrics,
                features=result.features,
                feature_importance=result.feature_importance,
            )
        )
        try:
            db.session.commit()
        except IntegrityError:
            # Another run of this project saved the same version number first; count again.
            db.session.rollback()
            continue
        return version
    raise RuntimeError(f"could not save the model of run {fence.run_id}: version numbers kept colliding")


def sweep_expired_leases(max_attempts: int) -> int:
    """Re-queue (or fail, after ``max_attempts``) running runs whose worker stopped renewing the lease."""
    now = utcnow()
    expired = db.session.execute(
        select(TrainingRun.id, TrainingRun.attempt, TrainingRun.cancel_requested).where(
            TrainingRun.status == RUN_RUNNING, TrainingRun.lease_expires_at < now
        )
    ).all()
    swept = 0
    for run_id, attempt, cancel_requested in expired:
        fence = RunFence(run_id, attempt)
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
            log.warning(
                "run %s attempt %s lost its worker: %s", run_id, attempt, values["status"], extra={"run_id": run_id}
            )
    db.session.commit()
    return swept
