"""The gateway in front of the real services (gunicorn processes): auth, tokens, identity, faults, docs, streaming."""

from __future__ import annotations

import hashlib
import time
import uuid

import jwt
import pytest
import requests

from harness.data import parquet_bytes, shop_sales_frame
from harness.processes import SERVICES
from shared.internal_auth import INTERNAL_TOKEN_HEADER, issue_internal_token
from shared.media_types import PARQUET
from shared.user_tokens import USER_TOKEN_AUDIENCE
from tests.platform_harness import bearer, unique_username

pytestmark = pytest.mark.e2e


def assert_error_shape(answer: requests.Response, code: int) -> dict:
    assert answer.status_code == code, answer.text
    assert answer.headers["Content-Type"].startswith("application/json")
    body = answer.json()
    assert body["code"] == code
    assert set(body) <= {"code", "status", "message", "errors"}
    assert isinstance(body["message"], str) and body["message"]
    return body


def create_project(api, headers: dict[str, str], name: str = "shop") -> dict:
    created = api.post("/api/v1/projects", json={"name": name}, headers=headers)
    assert created.status_code == 201, created.text
    return created.json()


def test_register_login_me_through_the_gateway(api):
    username = unique_username("alice")
    registered = api.register(username)
    assert registered.status_code == 201, registered.text
    assert registered.json()["username"] == username
    tokens = api.login(username)
    assert tokens["token_type"] == "Bearer"
    assert tokens["expires_in"] > 0
    me = api.get("/api/v1/auth/me", headers=bearer(tokens["access_token"]))
    assert me.status_code == 200, me.text
    assert me.json() == {"id": registered.json()["id"], "username": username}


def test_duplicate_username_409_and_bad_password_401(api):
    username = unique_username("bob")
    assert api.register(username).status_code == 201
    assert_error_shape(api.register(username), 409)
    wrong = api.post("/api/v1/auth/login", json={"username": username, "password": "not-the-password"})
    unknown = api.post("/api/v1/auth/login", json={"username": unique_username("nobody"), "password": "whatever1"})
    assert assert_error_shape(wrong, 401)["message"] == assert_error_shape(unknown, 401)["message"]


def test_refresh_gives_a_working_access_token(api):
    username = unique_username("carol")
    api.register(username)
    tokens = api.login(username)
    refreshed = api.post("/api/v1/auth/refresh", headers=bearer(tokens["refresh_token"]))
    assert refreshed.status_code == 200, refreshed.text
    me = api.get("/api/v1/auth/me", headers=bearer(refreshed.json()["access_token"]))
    assert me.status_code == 200
    assert me.json()["username"] == username


def test_logout_revokes_and_stays_revoked_after_the_projects_service_restarts(api, platform):
    username = unique_username("dave")
    api.register(username)
    tokens = api.login(username)
    access, refresh = bearer(tokens["access_token"]), bearer(tokens["refresh_token"])
    assert api.get("/api/v1/auth/me", headers=access).status_code == 200
    assert api.post("/api/v1/auth/logout", headers=access).status_code == 204
    assert_error_shape(api.post("/api/v1/auth/logout", headers=refresh), 401)  # the whole session ended
    assert_error_shape(api.get("/api/v1/auth/me", headers=access), 401)
    assert_error_shape(api.post("/api/v1/auth/refresh", headers=refresh), 401)

    with platform.stopped("projects"):
        assert_error_shape(api.post("/api/v1/auth/login", json={"username": username, "password": "x" * 8}), 503)

    assert_error_shape(api.get("/api/v1/auth/me", headers=access), 401)
    assert_error_shape(api.get("/api/v1/projects", headers=access), 401)
    assert_error_shape(api.post("/api/v1/auth/refresh", headers=refresh), 401)
    # The account itself still works: a new login gives tokens that are not revoked.
    assert api.get("/api/v1/auth/me", headers=bearer(api.login(username)["access_token"])).status_code == 200


def _token(claims: dict, key: str, algorithm: str = "HS256") -> str:
    return jwt.encode(claims, key, algorithm=algorithm)


def _unsigned_token(claims: dict) -> str:
    return jwt.encode(claims, None, algorithm="none")


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")  # HS512 with our HS256 key, on purpose
def test_bad_tokens_are_refused_with_401_json(api, platform):
    secret = platform.env["JWT_SECRET_KEY"]
    headers = api.register_and_login()
    user_id = api.get("/api/v1/auth/me", headers=headers).json()["id"]
    now = int(time.time())
    valid = {
        "sub": str(user_id), "type": "access", "aud": USER_TOKEN_AUDIENCE, "sid": uuid.uuid4().hex,
        "jti": uuid.uuid4().hex, "iat": now, "nbf": now, "exp": now + 600,
    }  # fmt: skip
    without_exp = {key: value for key, value in valid.items() if key != "exp"}
    expired = {**valid, "iat": now - 3600, "nbf": now - 3600, "exp": now - 1800}
    refresh_token = api.login(api.get("/api/v1/auth/me", headers=headers).json()["username"])["refresh_token"]
    cases = {
        "no token": {},
        "garbage": {"Authorization": "Bearer not-a-jwt"},
        "not bearer": {"Authorization": f"Basic {_token(valid, secret)}"},
        "wrong key": bearer(_token(valid, key="another-secret-that-is-long-enough-0123456789")),
        "alg none": bearer(_unsigned_token(valid)),
        "other algorithm": bearer(_token(valid, secret, algorithm="HS512")),
        "no exp": bearer(_token(without_exp, secret)),
        "expired": bearer(_token(expired, secret)),
        "refresh token as access": bearer(refresh_token),
    }
    # The well-formed token is accepted, so each case below fails for its own defect only.
    assert api.get("/api/v1/auth/me", headers=bearer(_token(valid, secret))).status_code == 200
    for case, case_headers in cases.items():
        for method, path in (
            ("GET", "/api/v1/auth/me"),
            ("GET", "/api/v1/projects"),
            ("POST", "/api/v1/projects/1/train"),
        ):
            answer = api.request(method, path, headers=case_headers)
            assert answer.status_code == 401, (case, path, answer.text)
            assert_error_shape(answer, 401)


@pytest.mark.parametrize("service", SERVICES)
def test_services_called_directly_need_the_gateways_internal_token(platform, service):
    url = f"{platform.url(service)}/api/v1/projects/1/"
    forged = issue_internal_token("a-forged-secret-that-is-long-enough-0123456789", service, 1)
    wrong_audience = issue_internal_token(platform.env["INTERNAL_TOKEN_SECRET"], "gateway", 1)
    for headers in (
        {},
        {"X-User-Id": "1"},
        {"X-User-Id": "1", "X-Forwarded-User": "1"},
        {INTERNAL_TOKEN_HEADER: forged},
        {INTERNAL_TOKEN_HEADER: wrong_audience},
    ):
        answer = requests.get(url, headers=headers, timeout=30)
        assert_error_shape(answer, 401)
    assert requests.get(f"{platform.url(service)}/health", timeout=30).status_code == 200


def test_client_identity_headers_never_reach_a_service(api, platform):
    victim = api.register_and_login()
    victim_id = api.get("/api/v1/auth/me", headers=victim).json()["id"]
    victim_project = create_project(api, victim, "victim's")
    attacker = api.register_and_login()
    attacker_id = api.get("/api/v1/auth/me", headers=attacker).json()["id"]
    forged_internal = issue_internal_token(platform.env["INTERNAL_TOKEN_SECRET"], "projects", victim_id)
    claims = {
        "X-User-Id": str(victim_id),
        "X-User-Name": "victim",
        "X-Forwarded-User": str(victim_id),
        INTERNAL_TOKEN_HEADER: forged_internal,
    }
    me = api.get("/api/v1/auth/me", headers={**attacker, **claims})
    assert me.status_code == 200
    assert me.json()["id"] == attacker_id
    listed = api.get("/api/v1/projects", headers={**attacker, **claims})
    assert victim_project["id"] not in [project["id"] for project in listed.json()]
    stolen = api.get(f"/api/v1/projects/{victim_project['id']}", headers={**attacker, **claims})
    assert assert_error_shape(stolen, 404)["message"] == "Project not found."
    assert_error_shape(api.get("/api/v1/auth/me", headers=claims), 401)


def test_another_users_project_answers_like_a_missing_one(api):
    owner = api.register_and_login()
    project = create_project(api, owner)
    stranger = api.register_and_login()
    for suffix in ("", "/", "/datasets", "/training-runs", "/models"):
        foreign = api.get(f"/api/v1/projects/{project['id']}{suffix}", headers=stranger)
        missing = api.get(f"/api/v1/projects/2147483000{suffix}", headers=stranger)
        assert foreign.status_code == missing.status_code == 404
        assert foreign.json() == missing.json() == {"code": 404, "status": "Not Found", "message": "Project not found."}
    assert_error_shape(api.delete(f"/api/v1/projects/{project['id']}", headers=stranger), 404)
    assert api.get(f"/api/v1/projects/{project['id']}", headers=owner).status_code == 200


def test_deleted_project_is_gone_at_once_despite_the_ownership_cache(api):
    owner = api.register_and_login()
    project = create_project(api, owner)
    assert api.get(f"/api/v1/projects/{project['id']}", headers=owner).status_code == 200
    assert api.delete(f"/api/v1/projects/{project['id']}/", headers=owner).status_code == 204
    assert_error_shape(api.get(f"/api/v1/projects/{project['id']}/datasets", headers=owner), 404)


def test_a_stopped_service_gives_503_naming_it_and_readiness_says_which(api, platform):
    headers = api.register_and_login()
    project = create_project(api, headers)
    with platform.stopped("trainer"):
        runs = api.get(f"/api/v1/projects/{project['id']}/training-runs", headers=headers)
        assert assert_error_shape(runs, 503)["message"] == "the trainer service is unavailable"
        ready = api.get("/health/ready")
        body = assert_error_shape(ready, 503)
        assert set(body["errors"]) == {"trainer"}
        assert api.get("/health").status_code == 200
        assert api.get(f"/api/v1/projects/{project['id']}", headers=headers).status_code == 200
    assert api.get("/health/ready").status_code == 200
    assert api.get(f"/api/v1/projects/{project['id']}/training-runs", headers=headers).status_code != 503


def test_unknown_routes_wrong_methods_and_trailing_slashes(api, platform):
    headers = api.register_and_login()
    project = create_project(api, headers)
    for path in ("/api/v1/nothing", "/api/v1/projects/abc", "/api/v1/projects/1.5/datasets", "/internal/projects/1",
                 f"/api/v1/projects/{project['id']}/secrets", "/api/v1/projects/99999999999999999999"):  # fmt: skip
        assert_error_shape(api.get(path, headers=headers, allow_redirects=False), 404)
    assert_error_shape(api.request("PUT", "/api/v1/auth/login", headers=headers), 405)
    assert_error_shape(api.delete("/api/v1/openapi.json"), 405)
    for path in ("/api/v1/projects", "/api/v1/projects/", f"/api/v1/projects/{project['id']}",
                 f"/api/v1/projects/{project['id']}/", "/api/v1/auth/me/", "/health/", "/health/ready/"):  # fmt: skip
        answer = api.get(path, headers=headers, allow_redirects=False)
        assert answer.status_code == 200, (path, answer.status_code, answer.text)


def test_openapi_document_merges_every_service_and_docs_render(api, platform):
    document = api.get("/api/v1/openapi.json")
    assert document.status_code == 200
    merged = document.json()
    assert merged["openapi"].startswith("3.")
    assert "x-missing-services" not in merged
    for service in SERVICES:
        own = requests.get(
            f"{platform.url(service)}/openapi.json",
            headers={INTERNAL_TOKEN_HEADER: issue_internal_token(platform.env["INTERNAL_TOKEN_SECRET"], service, None)},
            timeout=30,
        ).json()
        for path, item in own["paths"].items():
            if path.startswith("/api/v1/"):
                assert set(item) <= set(merged["paths"][path]), (service, path)
    assert "/api/v1/auth/login" in merged["paths"]
    assert not any(path.startswith("/internal") for path in merged["paths"])
    assert merged["paths"]["/api/v1/auth/me"]["get"]["security"] == [{"bearerAuth": []}]
    assert "security" not in merged["paths"]["/api/v1/auth/login"]["post"]
    assert merged["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    docs = api.get("/api/docs")
    assert docs.status_code == 200
    assert docs.headers["Content-Type"].startswith("text/html")
    assert "/api/v1/openapi.json" in api.get("/api/docs/start.js").text


def _chunks(data: bytes, size: int):
    for start in range(0, len(data), size):
        yield data[start : start + size]


def test_a_chunked_upload_streams_through_the_gateway(api):
    headers = api.register_and_login()
    project = create_project(api, headers)
    data = parquet_bytes(shop_sales_frame(rows=8_000))  # a few hundred KB: many 16 KB chunks
    uploaded = api.post(
        f"/api/v1/projects/{project['id']}/datasets",
        data=_chunks(data, 16 * 1024),  # a generator: requests sends it with Transfer-Encoding: chunked
        headers={**headers, "Content-Type": PARQUET},
    )
    assert uploaded.status_code == 201, uploaded.text
    dataset = uploaded.json()
    assert dataset["size_bytes"] == len(data)
    assert dataset["sha256"] == hashlib.sha256(data).hexdigest()
    assert dataset["rows"] == 8_000


def test_an_oversized_chunked_upload_is_refused_before_it_is_all_sent(api, platform):
    headers = api.register_and_login()
    project = create_project(api, headers)
    cap = int(platform.env["UPLOAD_MAX_BYTES"])
    chunk = b"\0" * (256 * 1024)
    total_chunks = 16 * cap // len(chunk)
    sent = []

    def body():
        for _ in range(total_chunks):
            sent.append(len(chunk))
            yield chunk

    try:
        answer = api.post(
            f"/api/v1/projects/{project['id']}/datasets", data=body(), headers={**headers, "Content-Type": PARQUET}
        )
    except requests.ConnectionError:
        answer = None  # the gateway may close the connection on a body it will not read to the end
    if answer is not None:
        assert_error_shape(answer, 413)
    # Had the gateway held the body before forwarding it, the whole body would have been read first.
    assert sum(sent) < total_chunks * len(chunk)
    assert api.get(f"/api/v1/projects/{project['id']}/datasets", headers=headers).json() == []
