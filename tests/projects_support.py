"""Helpers for tests of the projects service: an app on the test database, users, calls as a user."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask
from werkzeug.serving import make_server

from services.projects import accounts, create_app
from tests.conftest import internal_token_headers


def projects_app(config: dict[str, Any], tmp_path, **overrides: Any) -> Flask:
    return create_app({**config, "UPLOAD_TMP_DIR": str(tmp_path / "uploads"), **overrides})


def create_user(app: Flask, username: str) -> int:
    with app.app_context():
        return accounts.register_user(username, f"password-of-{username}").id


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


@contextmanager
def served(app: Flask) -> Iterator[str]:
    """Serve ``app`` over real HTTP on a free loopback port; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join()


def training_delete_route_exists(trainer: Flask) -> bool:
    return any(
        rule.rule.startswith("/internal/projects/") and rule.rule.endswith("/training") and "DELETE" in rule.methods
        for rule in trainer.url_map.iter_rules()
    )
