"""Projects routes of the projects service: CRUD, pagination, ownership, status, deletion through the trainer."""

from __future__ import annotations

import json

import pytest

from services.projects.models import Project
from shared.db import db
from shared.training_records import ModelVersion, TrainingRun
from tests.projects_support import UserClient, create_user, projects_app

PROJECT_NOT_FOUND = {"code": 404, "status": "Not Found", "message": "Project not found."}
PROJECT_FIELDS = {
    "id",
    "name",
    "description",
    "target",
    "status",
    "created_at",
    "updated_at",
    "latest_dataset",
    "active_model",
}


@pytest.fixture
def app(app_config, tmp_path):
    return projects_app(app_config, tmp_path, PAGE_SIZE_MAX=5, TRAINER_URL="http://127.0.0.1:9")


@pytest.fixture
def alice(app):
    return UserClient(app, create_user(app, "alice"))


@pytest.fixture
def bob(app):
    return UserClient(app, create_user(app, "bob"))


def create_project(client: UserClient, **fields) -> dict:
    response = client.post("/api/v1/projects", json={"name": "Weekly sales", **fields})
    assert response.status_code == 201, response.json
    return response.json


def test_create_with_defaults_then_get(alice):
    created = create_project(alice)
    assert set(created) == PROJECT_FIELDS
    assert created["name"] == "Weekly sales"
    assert created["description"] == ""
    assert created["target"] == "sales"
    assert created["status"] == "pending"
    assert created["latest_dataset"] is None
    assert created["active_model"] is None
    fetched = alice.get(f"/api/v1/projects/{created['id']}")
    assert fetched.status_code == 200
    assert fetched.json == created


def test_create_with_every_field(alice):
    created = create_project(alice, description="All stores", target="Weekly_Sales")
    assert (created["description"], created["target"]) == ("All stores", "Weekly_Sales")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"name": "ok", "target": ""}, "target"),
        ({"name": "ok", "owner_id": 2}, "owner_id"),
        ({"name": 5}, "name"),
    ],
)
def test_create_refuses_invalid_bodies(alice, body, field):
    response = alice.post("/api/v1/projects", json=body)
    assert response.status_code == 422
    assert field in response.json["errors"]


def test_create_refuses_other_content_types_and_bad_json(alice):
    plain = alice.post("/api/v1/projects", data="name=x", content_type="text/plain")
    assert plain.status_code == 415
    assert plain.json["code"] == 415
    broken = alice.post("/api/v1/projects", data="{not json", content_type="application/json")
    assert broken.status_code == 400
    assert broken.json["code"] == 400


def test_patch_changes_only_the_given_fields(alice):
    created = create_project(alice, description="old")
    patched = alice.patch(f"/api/v1/projects/{created['id']}", json={"name": "Renamed", "target": "volume"})
    assert patched.status_code == 200, patched.json
    assert (patched.json["name"], patched.json["target"], patched.json["description"]) == ("Renamed", "volume", "old")
    assert patched.json["updated_at"] >= created["updated_at"]
    assert alice.get(f"/api/v1/projects/{created['id']}").json == patched.json
    invalid = alice.patch(f"/api/v1/projects/{created['id']}", json={"name": ""})
    assert invalid.status_code == 422


def test_list_shows_only_the_callers_projects_page_by_page(alice, bob):
    mine = [create_project(alice, name=f"alice {index}")["id"] for index in range(7)]
    create_project(bob, name="bob's")

    first = alice.get("/api/v1/projects?page=1&page_size=5")
    assert first.status_code == 200
    assert json.loads(first.headers["X-Pagination"]) == {
        "total": 7,
        "total_pages": 2,
        "first_page": 1,
        "last_page": 2,
        "page": 1,
        "next_page": 2,
    }
    second = alice.get("/api/v1/projects/?page=2&page_size=5")
    listed = [project["id"] for project in first.json + second.json]
    assert sorted(listed) == sorted(mine)
    assert listed == sorted(mine, reverse=True)  # newest first
    assert all(project["name"].startswith("alice") for project in first.json + second.json)
    bobs = bob.get("/api/v1/projects")
    assert bobs.status_code == 200, bobs.json
    assert [project["name"] for project in bobs.json] == ["bob's"]


@pytest.mark.parametrize(
    "query", ["page_size=6", "page_size=0", "page=0", "page_size=abc", "page=2922084721648207501721600"]
)
def test_list_refuses_page_sizes_over_the_cap_and_bad_numbers(alice, query):
    response = alice.get(f"/api/v1/projects?{query}")
    assert response.status_code == 422
    assert set(response.json["errors"]) <= {"page", "page_size"}


def test_another_users_project_looks_missing_and_stays_unchanged(app, alice, bob):
    project = create_project(alice, description="private")
    path = f"/api/v1/projects/{project['id']}"
    missing_path = f"/api/v1/projects/{project['id'] + 1000}"
    for response in (
        bob.get(path),
        bob.patch(path, json={"name": "stolen"}),
        bob.delete(path),
        bob.get(missing_path),
        bob.patch(missing_path, json={"name": "x"}),
        bob.delete(missing_path),
        alice.get(missing_path),
    ):
        assert response.status_code == 404
        assert response.json == PROJECT_NOT_FOUND
    assert alice.get(path).json == project
    assert bob.get("/api/v1/projects").json == []


def test_status_and_active_model_come_from_training_records(app, alice):
    project = create_project(alice)
    path = f"/api/v1/projects/{project['id']}"
    with app.app_context():
        run = TrainingRun(project_id=project["id"], owner_id=alice.user_id, dataset_id="d", params={}, status="failed")
        db.session.add(run)
        db.session.commit()
    assert alice.get(path).json["status"] == "error"
    with app.app_context():
        db.session.add(
            ModelVersion(
                project_id=project["id"],
                owner_id=alice.user_id,
                version=1,
                algorithm="lr",
                target="sales",
                training_run_id=1,
                active=True,
                size_bytes=1,
                sha256="0" * 64,
                artifact=b"x",
                library_versions={},
                metrics={},
                features=[],
                feature_importance=[],
            )
        )
        db.session.add(
            TrainingRun(project_id=project["id"], owner_id=alice.user_id, dataset_id="d", params={}, status="queued")
        )
        db.session.commit()
    training = alice.get(path).json
    assert (training["status"], training["active_model"]) == ("training", 1)
    with app.app_context():
        db.session.execute(db.update(TrainingRun).values(status="succeeded"))
        db.session.commit()
    ready = alice.get("/api/v1/projects").json[0]
    assert (ready["status"], ready["active_model"]) == ("ready", 1)


def test_delete_answers_503_and_keeps_everything_when_the_trainer_is_down(app, alice):
    project = create_project(alice)
    response = alice.delete(f"/api/v1/projects/{project['id']}")
    assert response.status_code == 503
    assert response.json["code"] == 503
    assert alice.get(f"/api/v1/projects/{project['id']}").json == project


def test_delete_removes_the_project_and_its_training_records(app_config, tmp_path, trainer_url):
    app = projects_app(app_config, tmp_path, TRAINER_URL=trainer_url)
    alice = UserClient(app, create_user(app, "alice"))
    bob = UserClient(app, create_user(app, "bob"))
    project = create_project(alice)
    kept = create_project(bob)
    with app.app_context():
        for owner, project_id in ((alice.user_id, project["id"]), (bob.user_id, kept["id"])):
            db.session.add(TrainingRun(project_id=project_id, owner_id=owner, dataset_id="d", params={}))
        db.session.commit()

    assert bob.delete(f"/api/v1/projects/{project['id']}").json == PROJECT_NOT_FOUND
    response = alice.delete(f"/api/v1/projects/{project['id']}/")
    assert response.status_code == 204, response.json
    assert response.data == b""
    assert alice.get(f"/api/v1/projects/{project['id']}").json == PROJECT_NOT_FOUND
    with app.app_context():
        assert db.session.get(Project, project["id"]) is None
        remaining = db.session.execute(db.select(TrainingRun.project_id)).scalars().all()
        assert remaining == [kept["id"]]


def test_internal_project_lookup_checks_the_owner(alice, bob):
    project = create_project(alice, target="volume")
    answer = alice.get(f"/internal/projects/{project['id']}")
    assert answer.status_code == 200
    assert answer.json == {"id": project["id"], "owner_id": alice.user_id, "name": "Weekly sales", "target": "volume"}
    assert bob.get(f"/internal/projects/{project['id']}").json == PROJECT_NOT_FOUND
    assert alice.get(f"/internal/projects/{project['id'] + 1}").json == PROJECT_NOT_FOUND


def test_training_input_without_a_dataset_is_a_conflict(alice, bob):
    project = create_project(alice)
    response = alice.get(f"/internal/projects/{project['id']}/training-input")
    assert response.status_code == 409
    assert "upload a dataset first" in response.json["message"]
    assert bob.get(f"/internal/projects/{project['id']}/training-input").status_code == 404


def test_project_routes_need_the_internal_token(app, alice):
    project = create_project(alice)
    client = app.test_client()
    for method in ("GET", "PATCH", "DELETE"):
        response = client.open(f"/api/v1/projects/{project['id']}", method=method, headers={"X-User-Id": "1"})
        assert response.status_code == 401
    assert alice.get(f"/api/v1/projects/{project['id']}").json == project
