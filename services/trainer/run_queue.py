"""Training runs as the API sees them: queue one (after checking the dataset), find, list, cancel, delete.

A run is a row in ``training_runs``; the workers take it from there (``run_leases``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.exc import IntegrityError

from services.trainer.forecast_input import forecast_settings
from services.trainer.metrics import count_finished_run
from services.trainer.queue_signal import announce_queued_run
from services.trainer.training_input import (
    TrainingInput,
    categorical_features,
    fetch_training_input,
    ignored_features,
    problems_with_dataset,
)
from services.trainer.training_jobs import TASK_FORECAST
from shared.clock import utcnow
from shared.db import db
from shared.domain_errors import DomainError, ProjectNotFound
from shared.storage import ObjectStore
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
    claim_project_for_new_run,
)


class TooManyActiveRuns(DomainError):
    """The user already has the allowed number of queued and running runs."""

    def __init__(self, cap: int) -> None:
        super().__init__(
            f"You already have {cap} training runs queued or running; wait for one to finish or cancel one."
        )


class IdempotencyKeyReused(DomainError):
    """The Idempotency-Key was already used by this user for another request (another project or other parameters)."""

    message = (
        "This Idempotency-Key was already used for another request (another project or other parameters); "
        "send a new key with a new request."
    )


@dataclass(frozen=True)
class IdempotentRequest:
    """A train request made retryable by its ``Idempotency-Key``, with the fingerprint of what it asks for."""

    key: str
    fingerprint: str

    @classmethod
    def of(cls, key: str, project_id: int, body: Mapping[str, Any]) -> IdempotentRequest:
        canonical = json.dumps({"project_id": project_id, "body": body}, sort_keys=True, default=str)
        return cls(key, hashlib.sha256(canonical.encode()).hexdigest())


class RunAlreadyFinished(DomainError):
    """A finished run cannot be cancelled."""

    def __init__(self, status: str) -> None:
        super().__init__(f"This run already finished ({status}); there is nothing to cancel.")


class UntrainableRequest(DomainError):
    """The dataset cannot be trained with the requested parameters; ``errors`` says why, per field."""

    def __init__(self, problems: dict[str, list[str]]) -> None:
        super().__init__("This dataset cannot be trained with these settings.", problems)


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


def existing_run_for_key(owner_id: int, project_id: int, retry: IdempotentRequest | None) -> TrainingRun | None:
    """The run an earlier request with this Idempotency-Key created, if any; ``IdempotencyKeyReused`` if that request
    was another one."""
    if retry is None:
        return None
    run = find_run_by_idempotency_key(owner_id, retry.key)
    if run is None:
        return None
    if run.project_id != project_id or run.request_fingerprint not in (None, retry.fingerprint):
        raise IdempotencyKeyReused()
    return run


def queue_run(
    owner_id: int,
    project_id: int,
    request: dict[str, Any],
    idempotency_key: str | None,
    config: Mapping[str, Any],
    object_store: ObjectStore,
) -> TrainingRun:
    """Check the request against the project's dataset and queue a run (or return the one this key already made).

    ``request`` is the validated train body; ``config`` the trainer's settings; ``object_store`` holds the dataset
    (a forecast's dates are checked in the data itself). Raises the projects service's refusals
    (``ProjectNotFound``, ``DatasetNotFound``, ``ProjectHasNoDataset``, ``UpstreamFailure``), ``IdempotencyKeyReused``,
    ``UntrainableRequest``, ``UnforecastableRequest`` and ``TooManyActiveRuns``.
    """
    retry = IdempotentRequest.of(idempotency_key, project_id, request) if idempotency_key else None
    existing = existing_run_for_key(owner_id, project_id, retry)
    if existing is not None:
        return existing
    training_input = fetch_training_input(project_id, owner_id, request.get("dataset_id"))
    target = request.get("target") or training_input.target
    common = {
        "task": request["task"],
        "target": target,
        "include": request.get("include"),
        "exclude": request.get("exclude"),
        "sort": request["sort"],
        "time_budget_s": request.get("time_budget_s", config["TRAINING_DEFAULT_TIME_BUDGET_S"]),
        "seed": request["seed"],
        "activate": request["activate"],
    }
    if request["task"] == TASK_FORECAST:
        settings = forecast_settings(training_input, target, request, object_store)
        params = {**common, "forecast": settings}
    else:
        params = {**common, **regression_settings(training_input, target, request, config)}
    params["object_key"] = training_input.object_key
    return create_run(
        owner_id,
        project_id,
        training_input.dataset_id,
        params,
        retry,
        config["TRAINING_MAX_ACTIVE_RUNS_PER_USER"],
    )


def regression_settings(
    training_input: TrainingInput, target: str, request: dict[str, Any], config: Mapping[str, Any]
) -> dict[str, Any]:
    """A regression run's own settings, checked against the dataset (``UntrainableRequest`` with every problem)."""
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
    return {
        "ignore_features": request.get("ignore_features"),
        "ignored_features": ignored,
        "categorical_features": request.get("categorical_features"),
        "made_categorical": categorical_features(training_input, target, request.get("categorical_features")),
        "folds": request["folds"],
    }


def create_run(
    owner_id: int,
    project_id: int,
    dataset_id: str,
    params: dict[str, Any],
    retry: IdempotentRequest | None,
    max_active_runs: int,
) -> TrainingRun:
    """Queue a run, unless the project is gone or being deleted (``ProjectNotFound``: checked in this transaction, so
    a deletion that began after the dataset was fetched still wins) or the user is at the cap; a concurrent request
    with the same key gets the same run."""
    if not claim_project_for_new_run(project_id, owner_id):
        db.session.rollback()
        raise ProjectNotFound()
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
        idempotency_key=retry.key if retry else None,
        request_fingerprint=retry.fingerprint if retry else None,
        cancel_requested=False,
    )
    db.session.add(run)
    try:
        announce_queued_run()  # flushes the insert: a concurrent request with the same key fails here or at commit
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        existing = existing_run_for_key(owner_id, project_id, retry)
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
    if cancelled_while_queued:
        count_finished_run(RUN_CANCELLED, None, now)
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
