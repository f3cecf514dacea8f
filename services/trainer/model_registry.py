"""Model versions of a project: list, find, activate, and add the version a run produced."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import undefer

from services.trainer.training_jobs import TrainingResult
from shared.db import db
from shared.domain_errors import DomainError
from shared.model_artifacts import artifact_hmac, library_versions, sha256_hex
from shared.training_records import ModelVersion


@dataclass(frozen=True)
class NewVersion:
    """A model version a run produced, about to be saved."""

    project_id: int
    owner_id: int
    version: int
    training_run_id: int
    target: str
    result: TrainingResult


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


def lock_project_models(project_id: int) -> None:
    """Serialize changes to which version is active (activations, new models) within one project."""
    db.session.execute(select(ModelVersion.id).where(ModelVersion.project_id == project_id).with_for_update())


def activate_model(model: ModelVersion) -> ModelVersion:
    """Make this version the one that serves the project (exactly one is active)."""
    lock_project_models(model.project_id)
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


class NoHoldoutPairs(DomainError):
    """The version kept no holdout pairs: a forecast model (its errors are its backtest), or an older version."""

    message = (
        "This model version has no holdout pairs: a forecast model has its backtest instead, and versions "
        "trained before holdout pairs were kept have none (retrain to get them)."
    )


def holdout_pairs(model: ModelVersion) -> dict[str, Any]:
    evaluation = model.evaluation or {}
    if evaluation.get("kind") != "holdout":
        raise NoHoldoutPairs()
    return {"target": model.target, "rows": evaluation["rows"]}


class NoBacktest(DomainError):
    """The version has no backtest: a regression model (its errors are its holdout pairs)."""

    message = "This model version has no backtest: it is a regression model (its holdout pairs are at /holdout)."


def backtest_windows(model: ModelVersion) -> dict[str, Any]:
    evaluation = model.evaluation or {}
    if evaluation.get("kind") != "backtest":
        raise NoBacktest()
    return {"windows": evaluation["windows"]}


def next_version(project_id: int, owner_id: int) -> int:
    """The number the owner's project's next model version gets (call after ``lock_project_models``)."""
    latest = db.session.scalar(
        select(func.max(ModelVersion.version)).where(
            ModelVersion.project_id == project_id, ModelVersion.owner_id == owner_id
        )
    )
    return (latest or 0) + 1


def add_version(new: NewVersion, signing_key: str, active: bool) -> None:
    """Add the version to the session, its artifact signed with ``signing_key``; ``active`` makes it the one that
    serves (the others stop). The caller holds ``lock_project_models`` and commits."""
    if active:
        db.session.execute(
            update(ModelVersion)
            .where(ModelVersion.project_id == new.project_id, ModelVersion.active.is_(True))
            .values(active=False)
            .execution_options(synchronize_session=False)
        )
    result = new.result
    db.session.add(
        ModelVersion(
            project_id=new.project_id,
            owner_id=new.owner_id,
            version=new.version,
            algorithm=result.algorithm,
            target=new.target,
            training_run_id=new.training_run_id,
            active=active,
            size_bytes=len(result.artifact),
            sha256=sha256_hex(result.artifact),
            artifact_hmac=artifact_hmac(signing_key, new.project_id, new.version, sha256_hex(result.artifact)),
            artifact=result.artifact,
            library_versions=library_versions(),
            metrics=result.metrics,
            features=result.features,
            feature_importance=result.feature_importance,
            task=result.task,
            forecast=result.forecast,
            permutation_importance=result.permutation_importance,
            training_profile=result.training_profile,
            evaluation=result.evaluation,
        )
    )


def serving_version(owner_id: int, project_id: int) -> ModelVersion | None:
    """The version that serves the project now, its artifact included (the challenger of a new run is compared
    with it)."""
    return db.session.scalar(
        select(ModelVersion)
        .options(undefer(ModelVersion.artifact))
        .where(ModelVersion.project_id == project_id, ModelVersion.owner_id == owner_id, ModelVersion.active.is_(True))
    )
