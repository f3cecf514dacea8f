"""Projects of one owner: queries always filter by the owner, so another user's project looks like a missing one."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, update

from services.projects import dataset_store
from services.projects.models import Project
from shared.db import db
from shared.domain_errors import ProjectNotFound
from shared.storage import ObjectStore
from shared.training_records import project_training_states

DEFAULT_TARGET = "sales"


def owned_project(owner_id: int, project_id: int) -> Project:
    project = db.session.execute(
        select(Project).where(Project.id == project_id, Project.owner_id == owner_id)
    ).scalar_one_or_none()
    if project is None:
        raise ProjectNotFound()
    return project


def list_projects(owner_id: int, offset: int, limit: int) -> tuple[list[Project], int]:
    """One page of the owner's projects, newest first, and how many there are in all."""
    total = db.session.execute(select(func.count()).where(Project.owner_id == owner_id)).scalar_one()
    projects = (
        db.session.execute(
            select(Project)
            .where(Project.owner_id == owner_id)
            .order_by(Project.created_at.desc(), Project.id.desc())
            .offset(offset)
            .limit(limit)
        )
        .scalars()
        .all()
    )
    return list(projects), total


def new_project(owner_id: int, name: str, description: str = "", target: str = DEFAULT_TARGET) -> Project:
    """Add a project to the session (flushed, so it has an id); the caller commits."""
    project = Project(owner_id=owner_id, name=name, description=description, target=target)
    db.session.add(project)
    db.session.flush()
    return project


def create_project(owner_id: int, name: str, description: str = "", target: str = DEFAULT_TARGET) -> Project:
    project = new_project(owner_id, name, description, target)
    db.session.commit()
    return project


def update_project(project: Project, changes: dict[str, Any]) -> Project:
    for field in ("name", "description", "target"):
        if field in changes:
            setattr(project, field, changes[field])
    db.session.commit()
    return project


def begin_deletion(project: Project) -> None:
    """From now on no run can be created for the project (``shared.training_records.claim_project_for_new_run``);
    committed at once, before the trainer is asked to delete its runs."""
    _set_deleting(project, True)


def abandon_deletion(project: Project) -> None:
    """The trainer could not delete the runs: the project goes on as before."""
    _set_deleting(project, False)


def _set_deleting(project: Project, deleting: bool) -> None:
    # Not a change the owner made: updated_at stays.
    db.session.execute(
        update(Project).where(Project.id == project.id).values(deleting=deleting, updated_at=Project.updated_at)
    )
    db.session.commit()


def delete_project(project: Project, object_store: ObjectStore) -> None:
    """Remove the project's rows and its datasets' objects; if the object store fails, nothing is committed."""
    keys = [key for dataset in project.datasets for key in dataset_store.dataset_object_keys(dataset)]
    db.session.delete(project)
    db.session.flush()
    try:
        for key in keys:
            dataset_store.delete_object(object_store, key)
    except BaseException:
        db.session.rollback()
        raise
    db.session.commit()


def describe_projects(owner_id: int, projects: list[Project]) -> list[dict[str, Any]]:
    """The public view of the owner's projects: their fields plus status, active model and latest dataset."""
    ids = [project.id for project in projects]
    states = project_training_states(owner_id, ids)
    latest = dataset_store.latest_dataset_ids(ids)
    return [
        {
            "id": project.id,
            "name": project.name,
            "description": project.description,
            "target": project.target,
            "status": states[project.id].status,
            "created_at": project.created_at,
            "updated_at": project.updated_at,
            "latest_dataset": latest.get(project.id),
            "active_model": states[project.id].active_model,
        }
        for project in projects
    ]


def describe_project(project: Project) -> dict[str, Any]:
    return describe_projects(project.owner_id, [project])[0]
