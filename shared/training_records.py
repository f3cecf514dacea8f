"""Training runs and model versions: owned and migrated by the trainer, read by the predictor and projects.

The projects service derives a project's ``status`` and ``active_model`` from these rows when it answers
(``project_training_states``), so the status is always what the runs and models say, with nothing to sync.

A run belongs to a project the trainer does not own: ``claim_project_for_new_run`` is the one look at the projects
table it takes, in the transaction that creates the run (see there how it serializes with a deletion).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
    column,
    func,
    select,
    table,
    update,
)
from sqlalchemy.orm import Mapped, mapped_column

from shared.clock import utcnow
from shared.db import db

RUN_QUEUED = "queued"
RUN_RUNNING = "running"
RUN_SUCCEEDED = "succeeded"
RUN_FAILED = "failed"
RUN_CANCELLED = "cancelled"
ACTIVE_RUN_STATUSES = (RUN_QUEUED, RUN_RUNNING)
FINISHED_RUN_STATUSES = (RUN_SUCCEEDED, RUN_FAILED, RUN_CANCELLED)


class TrainingRun(db.Model):
    __tablename__ = "training_runs"
    __table_args__ = (
        UniqueConstraint("owner_id", "idempotency_key", name="uq_training_runs_owner_idempotency"),
        Index("ix_training_runs_claim", "status", "created_at"),
        {"sqlite_autoincrement": True},  # run ids are public and never handed out twice
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(Integer, index=True)
    owner_id: Mapped[int] = mapped_column(Integer, index=True)
    dataset_id: Mapped[str] = mapped_column(String(36))
    status: Mapped[str] = mapped_column(String(16), default=RUN_QUEUED)
    stage: Mapped[str] = mapped_column(String(64), default="queued")
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    idempotency_key: Mapped[str | None] = mapped_column(String(128), nullable=True)
    # sha256 of the project and the validated train body: the same key with another request is refused.
    request_fingerprint: Mapped[str | None] = mapped_column(String(64), nullable=True)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    worker_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    error: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    leaderboard: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, nullable=True)
    model_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # Whether the run's model serves and why (champion and challenger on the run's holdout).
    activation: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class ModelVersion(db.Model):
    __tablename__ = "model_versions"
    __table_args__ = (
        UniqueConstraint("project_id", "version", name="uq_model_versions_project_version"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(Integer, index=True)
    owner_id: Mapped[int] = mapped_column(Integer, index=True)
    version: Mapped[int] = mapped_column(Integer)
    algorithm: Mapped[str] = mapped_column(String(128))
    target: Mapped[str] = mapped_column(String(200))
    training_run_id: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    active: Mapped[bool] = mapped_column(Boolean, default=False)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    # shared.model_artifacts.artifact_hmac: HMAC-SHA256 of project id, version and sha256 under MODEL_SIGNING_KEY.
    # NULL on rows from before 0002, and rows signed by the first scheme (the bytes alone) no longer match: both are
    # refused (409, retrain). No deployment had such rows, so nothing migrates them.
    artifact_hmac: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # Deferred: listing or activating versions never loads the (often large) pickles; the predictor selects it.
    artifact: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    library_versions: Mapped[dict[str, str]] = mapped_column(JSON)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON)
    features: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    feature_importance: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    task: Mapped[str] = mapped_column(String(16), default="regression", server_default="regression")
    # A forecast model's description (date and series columns, frequency, horizon, last dates, …); NULL otherwise.
    forecast: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    # How much the holdout MAE grows when each column is shuffled, in target units.
    permutation_importance: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, nullable=True)
    # Each feature's training distribution and a background sample (drift of actuals, explanations).
    training_profile: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True, deferred=True)
    # Holdout pairs or backtest windows, for charts of the model's errors.
    evaluation: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True, deferred=True)


# The projects service's table, as far as a new run needs it.
_projects = table("projects", column("id"), column("owner_id"), column("deleting"))


def claim_project_for_new_run(project_id: int, owner_id: int) -> bool:
    """True if the owner's project exists and is not being deleted, and then nobody can start deleting it until the
    caller's transaction ends: call it first in the transaction that creates the run.

    It is a write that changes nothing (``SET deleting = deleting``): on PostgreSQL it row-locks the project, so the
    projects service's ``SET deleting = true`` waits for the run to be committed (and then the trainer deletes that
    run too), or, committed first, makes this match no row. On SQLite the write takes the database's one write lock
    at once, before the run's other reads.
    """
    claimed = db.session.execute(
        update(_projects)
        .where(_projects.c.id == project_id, _projects.c.owner_id == owner_id, _projects.c.deleting.is_(False))
        .values(deleting=_projects.c.deleting)
        .execution_options(synchronize_session=False)
    )
    return claimed.rowcount == 1


@dataclass(frozen=True)
class ProjectTrainingState:
    status: str
    active_model: int | None


def project_training_states(owner_id: int, project_ids: Iterable[int]) -> dict[int, ProjectTrainingState]:
    """``pending`` · ``training`` (a run queued or running) · ``ready`` (a model serves) · ``error``, from the
    owner's runs and models only."""
    ids = list(project_ids)
    if not ids:
        return {}
    active_models = dict(
        db.session.execute(
            select(ModelVersion.project_id, ModelVersion.version).where(
                ModelVersion.project_id.in_(ids), ModelVersion.owner_id == owner_id, ModelVersion.active.is_(True)
            )
        ).all()
    )
    owners_runs = (TrainingRun.project_id.in_(ids), TrainingRun.owner_id == owner_id)
    training = set(
        db.session.scalars(
            select(TrainingRun.project_id).where(*owners_runs, TrainingRun.status.in_(ACTIVE_RUN_STATUSES)).distinct()
        ).all()
    )
    # A project's latest run has its highest id (ids grow in creation order and are never reused).
    latest_run_ids = select(func.max(TrainingRun.id)).where(*owners_runs).group_by(TrainingRun.project_id)
    latest_status = dict(
        db.session.execute(
            select(TrainingRun.project_id, TrainingRun.status).where(TrainingRun.id.in_(latest_run_ids))
        ).all()
    )
    states = {}
    for project_id in ids:
        active = active_models.get(project_id)
        if project_id in training:
            status = "training"
        elif active is not None:
            status = "ready"
        elif latest_status.get(project_id) == RUN_FAILED:
            status = "error"
        else:
            status = "pending"
        states[project_id] = ProjectTrainingState(status=status, active_model=active)
    return states
