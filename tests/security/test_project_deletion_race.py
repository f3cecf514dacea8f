"""Runs never attach to the wrong project: ids are never handed out twice, a run is created only for a project that
exists and is not being deleted (checked in the run's own transaction), and a project's status and model numbers
come from its owner's rows only. On PostgreSQL and on SQLite, with the real projects and trainer apps (the trainer
served over HTTP, as the projects service calls it when a project is deleted).

Before: on SQLite a deleted project's id went to the next new project, and a POST /train racing a DELETE could
create runs after the project's runs were deleted, so another user's new project showed them ("training", then
"error").
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask

from services.projects import create_app as create_projects
from services.trainer import create_app as create_trainer
from services.trainer import run_queue
from shared.db import db
from shared.domain_errors import ProjectNotFound
from shared.migrate import upgrade
from shared.training_records import ModelVersion, TrainingRun
from tests.helpers.servers import served
from tests.projects_support import UserClient, create_user


@dataclass
class Apps:
    projects: Flask
    trainer: Flask


@pytest.fixture(params=["postgresql", "sqlite"])
def apps(request: pytest.FixtureRequest, app_config: dict[str, Any], tmp_path) -> Iterator[Apps]:
    config = {**app_config, "UPLOAD_TMP_DIR": str(tmp_path / "uploads")}
    if request.param == "sqlite":
        config["DATABASE_URL"] = f"sqlite:///{tmp_path / 'salesml.db'}"
        upgrade(config["DATABASE_URL"])
    trainer = create_trainer(config)
    with served(trainer) as trainer_url:
        yield Apps(create_projects({**config, "TRAINER_URL": trainer_url}), trainer)


def new_project(client: UserClient, name: str = "shop") -> int:
    created = client.post("/api/v1/projects", json={"name": name})
    assert created.status_code == 201, created.json
    return created.json["id"]


def queue_run(trainer: Flask, owner_id: int, project_id: int) -> int:
    """The last step of POST /train, after the dataset was fetched from the projects service."""
    with trainer.app_context():
        return run_queue.create_run(owner_id, project_id, "dataset", {"target": "sales"}, None, 10).id


def runs_of(trainer: Flask, project_id: int) -> list[TrainingRun]:
    with trainer.app_context():
        return list(db.session.scalars(db.select(TrainingRun).where(TrainingRun.project_id == project_id)))


def test_ids_are_never_handed_out_twice(apps):
    owner = create_user(apps.projects, "alice")
    client = UserClient(apps.projects, owner)
    first = new_project(client)
    run = queue_run(apps.trainer, owner, first)
    assert client.delete(f"/api/v1/projects/{first}").status_code == 204
    second = new_project(client)
    assert second > first, "a deleted project's id was given to a new one"
    assert queue_run(apps.trainer, owner, second) > run


def test_a_train_finishing_after_the_delete_creates_no_run(apps):
    """The race, step by step: /train fetched the dataset (the project existed), then the DELETE ran to the end, then
    /train creates its run."""
    owner = create_user(apps.projects, "alice")
    client = UserClient(apps.projects, owner)
    project = new_project(client)
    assert client.delete(f"/api/v1/projects/{project}").status_code == 204
    with pytest.raises(ProjectNotFound):
        queue_run(apps.trainer, owner, project)
    assert runs_of(apps.trainer, project) == []


def test_no_run_is_created_while_the_project_is_being_deleted(apps):
    from services.projects import project_store

    owner = create_user(apps.projects, "alice")
    project = new_project(UserClient(apps.projects, owner))
    with apps.projects.app_context():
        project_store.begin_deletion(project_store.owned_project(owner, project))
    with pytest.raises(ProjectNotFound):
        queue_run(apps.trainer, owner, project)
    with apps.projects.app_context():  # the trainer failed to delete the runs: the project goes on
        project_store.abandon_deletion(project_store.owned_project(owner, project))
    assert queue_run(apps.trainer, owner, project)


def test_a_delete_that_starts_while_a_run_is_being_created_waits_and_deletes_it(apps):
    """The run's transaction has checked the project and inserted the run, not committed yet; a DELETE starts. It
    must wait for that commit (PostgreSQL: the project's row lock; SQLite: the one write lock) and then delete the
    run with the rest, never leave it behind."""
    owner = create_user(apps.projects, "alice")
    client = UserClient(apps.projects, owner)
    project = new_project(client)
    deleted: list[int] = []
    with apps.trainer.app_context():
        run = run_queue.TrainingRun(
            project_id=project, owner_id=owner, dataset_id="d", status="queued", stage="queued", progress=0.0,
            attempt=0, params={}, cancel_requested=False,
        )  # fmt: skip
        assert run_queue.claim_project_for_new_run(project, owner)
        db.session.add(run)
        db.session.flush()
        deletion = threading.Thread(
            target=lambda: deleted.append(client.delete(f"/api/v1/projects/{project}").status_code)
        )
        deletion.start()
        deletion.join(timeout=1.0)  # it cannot finish before this commit; give it time to try
        db.session.commit()
    deletion.join(timeout=60)
    assert deleted == [204]
    assert runs_of(apps.trainer, project) == []


def test_a_projects_status_and_models_come_from_its_owners_rows_only(apps):
    """Rows left under the same project id by another owner (what an orphaned run looked like) change nothing."""
    owner, stranger = create_user(apps.projects, "alice"), create_user(apps.projects, "mallory")
    client = UserClient(apps.projects, owner)
    project = new_project(client)
    with apps.trainer.app_context():
        for status in ("running", "failed"):
            db.session.add(
                TrainingRun(project_id=project, owner_id=stranger, dataset_id="d", status=status, stage=status,
                            progress=0.0, attempt=1, params={}, cancel_requested=False)
            )  # fmt: skip
        db.session.add(
            ModelVersion(project_id=project, owner_id=stranger, version=7, algorithm="x", target="sales",
                         training_run_id=1, active=True, size_bytes=1, sha256="0" * 64, artifact=b"x",
                         library_versions={}, metrics={}, features=[], feature_importance=[])
        )  # fmt: skip
        db.session.commit()
        from services.trainer.model_registry import next_version

        assert next_version(project, owner) == 1
    described = client.get(f"/api/v1/projects/{project}").json
    assert (described["status"], described["active_model"]) == ("pending", None)
    assert [p["status"] for p in client.get("/api/v1/projects").json] == ["pending"]


def test_every_table_with_public_ids_never_reuses_them_on_sqlite(tmp_path):
    """After every migration (a later one that rebuilds a table must keep its AUTOINCREMENT)."""
    import sqlite3

    path = tmp_path / "salesml.db"
    upgrade(f"sqlite:///{path}")
    with sqlite3.connect(path) as connection:
        tables = dict(connection.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table'").fetchall())
    for table in ("users", "projects", "training_runs", "model_versions"):
        assert "AUTOINCREMENT" in tables[table], table
