"""Usernames that differ only in case are one name, on PostgreSQL and on SQLite. Before, "Alice" and "alice" were two
accounts: someone could register a look-alike of another user's name, and a user logging in with other capitals
found no account."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from services.projects import create_app as create_projects
from shared.migrate import upgrade
from tests.conftest import internal_token_headers

PASSWORD = "correct horse battery"


@pytest.fixture(params=["postgresql", "sqlite"])
def projects(request: pytest.FixtureRequest, app_config: dict[str, Any], tmp_path) -> Flask:
    config = {**app_config, "UPLOAD_TMP_DIR": str(tmp_path / "uploads")}
    if request.param == "sqlite":
        config["DATABASE_URL"] = f"sqlite:///{tmp_path / 'salesml.db'}"
        upgrade(config["DATABASE_URL"])
    return create_projects(config)


def post(app: Flask, path: str, body: dict[str, str]):
    return app.test_client().post(path, json=body, headers=internal_token_headers(app.config, "projects", None))


def test_usernames_differing_only_in_case_are_one_account(projects):
    first = post(projects, "/api/v1/auth/register", {"username": "Alice.Smith", "password": PASSWORD})
    assert first.status_code == 201 and first.json["username"] == "Alice.Smith"
    for look_alike in ("alice.smith", "ALICE.SMITH", "aLiCe.SmItH"):
        again = post(projects, "/api/v1/auth/register", {"username": look_alike, "password": "another password"})
        assert again.status_code == 409, look_alike
    for spelling in ("Alice.Smith", "alice.smith", "ALICE.SMITH"):
        assert post(projects, "/api/v1/auth/login", {"username": spelling, "password": PASSWORD}).status_code == 200
    assert post(projects, "/api/v1/auth/login", {"username": "alice.smith", "password": "wrong"}).status_code == 401
