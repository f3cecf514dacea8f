"""Requests that used to crash a service (500, a trace in the logs) answer a 4xx in the JSON error shape: OPTIONS on
authenticated routes, JSON nested 1,000 deep, lone surrogates in text, huge page numbers and ids, and a token whose
``sub`` names no user."""

from __future__ import annotations

import json
import time
import uuid

import jwt
import pytest

from shared.user_tokens import USER_TOKEN_AUDIENCE
from tests.platform_harness import bearer
from tests.security.support import TINY_TRAINING, assert_error_shape, new_account

pytestmark = pytest.mark.e2e

LONE_SURROGATE = "\ud800"


def json_text(body: str) -> dict:
    return {"data": body.encode(), "headers": {"Content-Type": "application/json"}}


def nested(depth: int) -> str:
    return '{"name": ' + "[" * depth + "]" * depth + "}"


@pytest.fixture(scope="module")
def someone(session_api):
    account = new_account(session_api, "malformed")
    project = session_api.post("/api/v1/projects", json={"name": "p"}, headers=account.headers).json()
    return account, project["id"]


def test_options_on_authenticated_routes_is_a_4xx(session_api, someone, platform):
    account, project_id = someone
    document = session_api.get("/api/v1/openapi.json").json()
    paths = [path.replace("{project_id}", str(project_id)).replace("{run_id}", "1").replace("{version}", "1")
             .replace("{dataset_id}", str(uuid.uuid4())) for path in document["paths"]]  # fmt: skip
    assert len(paths) > 10
    for path in paths:
        for headers in ({}, account.headers):
            answer = session_api.request("OPTIONS", path, headers=headers)
            assert 400 <= answer.status_code < 500, (path, answer.status_code, answer.text[:200])
            assert_error_shape(answer, answer.status_code)


def test_json_nested_1000_deep_is_a_400(session_api, someone):
    account, project_id = someone
    deep = nested(1000)
    for method, path, headers in (
        ("POST", "/api/v1/auth/login", {}),
        ("POST", "/api/v1/auth/register", {}),
        ("POST", "/api/v1/projects", account.headers),
        ("PATCH", f"/api/v1/projects/{project_id}", account.headers),
        ("POST", f"/api/v1/projects/{project_id}/train", account.headers),
    ):
        body = json_text(deep)
        answer = session_api.request(method, path, data=body["data"], headers={**body["headers"], **headers})
        assert "nested too deeply" in assert_error_shape(answer, 400)["message"], path


def test_lone_surrogates_in_names_passwords_and_targets_are_a_422(session_api, someone):
    account, project_id = someone
    cases = (
        ("POST", "/api/v1/auth/register", {"username": f"a{LONE_SURROGATE}b", "password": "long-enough-1"}, {}),
        ("POST", "/api/v1/auth/register", {"username": "surrogate_pw", "password": f"pass{LONE_SURROGATE}word"}, {}),
        ("POST", "/api/v1/auth/login", {"username": f"x{LONE_SURROGATE}", "password": "whatever-1"}, {}),
        ("POST", "/api/v1/auth/login", {"username": account.username, "password": f"p{LONE_SURROGATE}"}, {}),
        ("POST", "/api/v1/projects", {"name": f"shop {LONE_SURROGATE}"}, account.headers),
        ("POST", "/api/v1/projects", {"name": "shop", "target": LONE_SURROGATE}, account.headers),
        ("PATCH", f"/api/v1/projects/{project_id}", {"description": LONE_SURROGATE}, account.headers),
        ("POST", f"/api/v1/projects/{project_id}/train", {**TINY_TRAINING, "target": LONE_SURROGATE}, account.headers),
        ("POST", f"/api/v1/projects/{project_id}/train", {"ignore_features": [LONE_SURROGATE]}, account.headers),
    )
    for method, path, body, headers in cases:
        answer = session_api.request(method, path, json=body, headers=headers)
        errors = assert_error_shape(answer, 422).get("errors", {})
        assert any("Unicode" in message for messages in errors.values() for message in messages), (path, errors)


def test_huge_page_numbers_are_a_422(session_api, someone):
    account, project_id = someone
    for path in (
        "/api/v1/projects",
        f"/api/v1/projects/{project_id}/training-runs",
        f"/api/v1/projects/{project_id}/models",
    ):
        for page in (10**20, 2**63, 10**7):
            answer = session_api.get(path, params={"page": page}, headers=account.headers)
            assert "page" in assert_error_shape(answer, 422)["errors"], (path, page)


def test_ids_beyond_the_keys_range_are_a_404(session_api, someone):
    account, project_id = someone
    for number in (2**31, 2**63, 2**63 + 1, 10**30):
        for method, path in (
            ("GET", f"/api/v1/projects/{project_id}/training-runs/{number}"),
            ("POST", f"/api/v1/projects/{project_id}/training-runs/{number}/cancel"),
            ("GET", f"/api/v1/projects/{project_id}/models/{number}"),
            ("POST", f"/api/v1/projects/{project_id}/models/{number}/activate"),
            ("GET", f"/api/v1/projects/{number}"),
        ):
            assert_error_shape(session_api.request(method, path, headers=account.headers), 404)
        version = session_api.post(
            f"/api/v1/projects/{project_id}/predict", params={"version": number}, json={}, headers=account.headers
        )
        assert_error_shape(version, 422)


def test_a_token_whose_user_does_not_exist_is_a_401(session_api, platform):
    now = int(time.time())
    claims = {
        "sub": "2000000000", "type": "access", "aud": USER_TOKEN_AUDIENCE, "sid": uuid.uuid4().hex,
        "jti": uuid.uuid4().hex, "iat": now, "nbf": now, "exp": now + 60,
    }  # fmt: skip
    token = bearer(jwt.encode(claims, platform.env["JWT_SECRET_KEY"], algorithm="HS256"))
    for method, path, body in (("POST", "/api/v1/projects", {"name": "ghost"}), ("GET", "/api/v1/auth/me", None)):
        assert_error_shape(session_api.request(method, path, json=body, headers=token), 401)


def test_the_json_error_shape_survives_each_case(session_api):
    """A sanity check of the helpers above: a well-formed body still works."""
    answer = session_api.post("/api/v1/auth/login", **json_text(json.dumps({"username": "nobody_x", "password": "x"})))
    assert_error_shape(answer, 401)
