"""Helpers for tests of the projects service: an app on the test database, users, calls as a user, a served trainer.

Registered as a pytest plugin in conftest.py, so its fixtures reach every test module.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from services.projects import accounts, create_app
from services.trainer import create_app as create_trainer
from tests.conftest import internal_token_headers
from tests.helpers.servers import served


def projects_app(config: dict[str, Any], tmp_path, **overrides: Any) -> Flask:
    return create_app({**config, "UPLOAD_TMP_DIR": str(tmp_path / "uploads"), **overrides})


def create_user(app: Flask, username: str) -> int:
    with app.app_context():
        return accounts.register_user(username, f"password-of-{username}", None, app.config).id


class UserClient:
    """Calls the projects app as the gateway does on behalf of one user (a fresh internal token each call)."""

    def __init__(self, app: Flask, user_id: int) -> None:
        self.app = app
        self.user_id = user_id
        self.client = app.test_client()

    def open(self, method: str, path: str, headers: dict[str, str] | None = None, **kwargs: Any):
        all_headers = internal_token_headers(self.app.config, "projects", self.user_id)
        all_headers.update(headers or {})
        return self.client.open(path, method=method, headers=all_headers, **kwargs)

    def get(self, path: str, **kwargs: Any):
        return self.open("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any):
        return self.open("POST", path, **kwargs)

    def patch(self, path: str, **kwargs: Any):
        return self.open("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any):
        return self.open("DELETE", path, **kwargs)


@pytest.fixture
def trainer_url(app_config: dict[str, Any]) -> Iterator[str]:
    """The trainer on the test database, served over HTTP (the projects service asks it to delete a project's runs)."""
    with served(create_trainer(app_config)) as url:
        yield url
