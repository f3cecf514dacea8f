"""Auth routes of the projects service: register, login with lockout, refresh, logout, me."""

from __future__ import annotations

import pytest

from services.projects import create_app
from tests.conftest import internal_token_headers

PASSWORD = "correct horse battery"


@pytest.fixture
def app(app_config, tmp_path):
    return create_app({**app_config, "UPLOAD_TMP_DIR": str(tmp_path / "uploads"), "LOGIN_MAX_FAILURES": 3})


@pytest.fixture
def call(app):
    """Call a route as the gateway would for an anonymous caller (internal token without a user)."""
    client = app.test_client()

    def send(method: str, path: str, bearer: str | None = None, user_id: int | None = None, **kwargs):
        headers = internal_token_headers(app.config, "projects", user_id)
        if bearer:
            headers["Authorization"] = f"Bearer {bearer}"
        return client.open(path, method=method, headers=headers, **kwargs)

    return send


def register(call, username="alice", password=PASSWORD):
    return call("POST", "/api/v1/auth/register", json={"username": username, "password": password})


def login(call, username="alice", password=PASSWORD):
    return call("POST", "/api/v1/auth/login", json={"username": username, "password": password})


def test_register_then_login_then_me(call):
    created = register(call)
    assert created.status_code == 201, created.json
    assert set(created.json) == {"id", "username"} and created.json["username"] == "alice"

    tokens = login(call)
    assert tokens.status_code == 200, tokens.json
    assert set(tokens.json) == {"access_token", "refresh_token", "token_type", "expires_in"}
    assert tokens.json["token_type"] == "Bearer"
    assert tokens.json["expires_in"] == 15 * 60

    me = call("GET", "/api/v1/auth/me", user_id=created.json["id"])
    assert me.status_code == 200
    assert me.json == created.json


def test_register_twice_is_a_conflict(call):
    assert register(call).status_code == 201
    again = register(call, password="another-password")
    assert again.status_code == 409
    assert again.json["message"] == "This username is already taken."


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"username": "ab", "password": PASSWORD}, "username"),
        ({"username": "a" * 65, "password": PASSWORD}, "username"),
        ({"username": "bad name", "password": PASSWORD}, "username"),
        ({"username": "../etc", "password": PASSWORD}, "username"),
        ({"username": "alice", "password": "short"}, "password"),
        ({"username": "alice", "password": "x" * 1025}, "password"),
        ({"username": "alice"}, "password"),
        ({"password": PASSWORD}, "username"),
        ({"username": 12345, "password": PASSWORD}, "username"),
    ],
)
def test_register_refuses_invalid_input(call, body, field):
    response = call("POST", "/api/v1/auth/register", json=body)
    assert response.status_code == 422
    assert response.json["code"] == 422
    assert field in response.json["errors"]


def test_register_accepts_the_edges_of_the_rules(call):
    assert register(call, username="a.b", password="x" * 8).status_code == 201
    assert register(call, username="Z" * 64, password="y" * 1024).status_code == 201
    assert register(call, username="under_score-dash.dot").status_code == 201


def test_unknown_user_and_wrong_password_get_the_same_answer(call):
    register(call)
    unknown = login(call, username="nobody")
    wrong = login(call, password="wrong password")
    assert unknown.status_code == wrong.status_code == 401
    assert (
        unknown.json
        == wrong.json
        == {
            "code": 401,
            "status": "Unauthorized",
            "message": "Invalid username or password.",
        }
    )


def test_repeated_failures_lock_the_account(call):
    register(call)
    for _ in range(3):  # LOGIN_MAX_FAILURES
        assert login(call, password="wrong password").status_code == 401
    locked = login(call)  # even the right password is refused while locked
    assert locked.status_code == 429
    assert locked.json["code"] == 429
    assert 0 < int(locked.headers["Retry-After"]) <= 300


def test_a_success_resets_the_failure_count(call):
    register(call)
    for _ in range(2):
        assert login(call, password="wrong password").status_code == 401
    assert login(call).status_code == 200
    for _ in range(2):
        assert login(call, password="wrong password").status_code == 401
    assert login(call).status_code == 200


def expire_lockouts(app) -> None:
    """Move every lockout into the past instead of waiting for it."""
    from services.projects.models import AuthThrottle
    from shared.db import db

    with app.app_context():
        db.session.execute(db.update(AuthThrottle).values(blocked_until=0.0))
        db.session.commit()


def test_lock_expires_and_the_next_failure_locks_for_twice_as_long(app, call):
    register(call)
    for _ in range(3):
        login(call, password="wrong password")
    assert int(login(call).headers["Retry-After"]) <= 300
    expire_lockouts(app)
    assert login(call, password="wrong password").status_code == 401
    assert 300 < int(login(call).headers["Retry-After"]) <= 600
    expire_lockouts(app)
    assert login(call).status_code == 200
    assert login(call, password="wrong password").status_code == 401  # the count started over


def test_an_unknown_username_is_locked_out_like_a_known_one(call):
    for _ in range(3):
        assert login(call, username="nobody", password="wrong password").status_code == 401
    assert login(call, username="nobody").status_code == 429


def test_refresh_with_the_refresh_token(call):
    register(call)
    tokens = login(call).json
    refreshed = call("POST", "/api/v1/auth/refresh", bearer=tokens["refresh_token"])
    assert refreshed.status_code == 200, refreshed.json
    assert refreshed.json["token_type"] == "Bearer"
    assert refreshed.json["access_token"] and refreshed.json["access_token"] != tokens["access_token"]


def test_refresh_refuses_an_access_token_and_no_token(call):
    register(call)
    tokens = login(call).json
    with_access = call("POST", "/api/v1/auth/refresh", bearer=tokens["access_token"])
    assert with_access.status_code == 401
    assert with_access.json["code"] == 401
    without = call("POST", "/api/v1/auth/refresh")
    assert without.status_code == 401
    assert without.json["code"] == 401


def test_logout_ends_the_session_even_after_a_restart(app_config, app, call, tmp_path):
    register(call)
    tokens = login(call).json
    assert call("POST", "/api/v1/auth/logout", bearer=tokens["refresh_token"]).status_code == 204

    restarted = create_app({**app_config, "UPLOAD_TMP_DIR": str(tmp_path / "uploads")})
    headers = internal_token_headers(restarted.config, "projects", None)
    headers["Authorization"] = f"Bearer {tokens['refresh_token']}"
    refused = restarted.test_client().post("/api/v1/auth/refresh", headers=headers)
    assert refused.status_code == 401
    assert refused.json["message"] == "The token has been revoked: log in again."
    # Logging out twice is refused too, and the access token of the same login went with the session.
    assert call("POST", "/api/v1/auth/logout", bearer=tokens["refresh_token"]).status_code == 401
    assert call("POST", "/api/v1/auth/logout", bearer=tokens["access_token"]).status_code == 401
    # Another login is another session.
    assert call("POST", "/api/v1/auth/logout", bearer=login(call).json["access_token"]).status_code == 204


def test_me_without_a_user_in_the_internal_token_is_401(call):
    response = call("GET", "/api/v1/auth/me")
    assert response.status_code == 401
    assert response.json["code"] == 401


def test_auth_routes_need_the_internal_token(app):
    response = app.test_client().post("/api/v1/auth/register", json={"username": "alice", "password": PASSWORD})
    assert response.status_code == 401
