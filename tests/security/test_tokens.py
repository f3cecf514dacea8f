"""User tokens through the gateway: the defects not already tried in tests/e2e/test_gateway_e2e.py
(``alg=none``, HS512, wrong key, no ``exp``, expired, refresh as access, logout + projects restart live there)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid

import jwt
import pytest

from gateway import create_app as create_gateway
from shared.config import load_config
from shared.internal_auth import ISSUER, issue_internal_token, verify_internal_token
from shared.user_tokens import USER_TOKEN_AUDIENCE
from tests.conftest import TEST_SECRET, internal_token_headers
from tests.platform_harness import bearer
from tests.security.support import assert_error_shape, new_account

pytestmark = pytest.mark.e2e

ACCESS_ROUTES = (("GET", "/api/v1/auth/me"), ("GET", "/api/v1/projects"), ("POST", "/api/v1/projects/1/train"))


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hand_signed(header: dict, claims: dict, key: str) -> str:
    """A token whose header says anything, signed HMAC-SHA256 with ``key`` (the algorithm-confusion attempt)."""
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
    signature = hmac.new(key.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(signature)}"


def unsigned(header: dict, claims: dict) -> str:
    return f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}."


def valid_claims(user_id: int) -> dict:
    now = int(time.time())
    return {
        "sub": str(user_id),
        "type": "access",
        "aud": USER_TOKEN_AUDIENCE,
        "sid": uuid.uuid4().hex,
        "jti": uuid.uuid4().hex,
        "iat": now,
        "nbf": now,
        "exp": now + 600,
    }


def assert_refused_everywhere(api, headers: dict[str, str], case: str) -> None:
    for method, path in ACCESS_ROUTES:
        answer = api.request(method, path, headers=headers)
        assert answer.status_code == 401, (case, path, answer.status_code, answer.text)
        assert_error_shape(answer, 401)


def test_tokens_missing_claims_or_with_a_forged_header_are_401(api, platform):
    secret = platform.env["JWT_SECRET_KEY"]
    user = new_account(api, "tokens")
    claims = valid_claims(user.user_id)
    # The hand-made HS256 token is accepted, so each case below fails for its own defect only.
    well_formed = bearer(hand_signed({"alg": "HS256", "typ": "JWT"}, claims, secret))
    assert api.get("/api/v1/auth/me", headers=well_formed).json() == {
        "id": user.user_id,
        "username": user.username,
    }
    required = ("jti", "sub", "type", "aud", "sid")
    without = {name: {key: value for key, value in claims.items() if key != name} for name in required}
    cases = {
        **{f"no {name}": jwt.encode(without[name], secret, algorithm="HS256") for name in required},
        "another audience": jwt.encode({**claims, "aud": "projects"}, secret, algorithm="HS256"),
        "type internal": jwt.encode({**claims, "type": "internal"}, secret, algorithm="HS256"),
        "sub not a user id": jwt.encode({**claims, "sub": "admin"}, secret, algorithm="HS256"),
        "RS256 header, HMAC signature": hand_signed({"alg": "RS256", "typ": "JWT"}, claims, secret),
        "ES256 header, HMAC signature": hand_signed({"alg": "ES256", "typ": "JWT"}, claims, secret),
        "alg None (capitalized), unsigned": unsigned({"alg": "None", "typ": "JWT"}, claims),
        "not yet valid": jwt.encode({**claims, "nbf": claims["iat"] + 3600}, secret, algorithm="HS256"),
        "internal token as a user token": issue_internal_token(
            platform.env["INTERNAL_TOKEN_SECRET"], "projects", user.user_id
        ),
        "signed with the internal secret": jwt.encode(claims, platform.env["INTERNAL_TOKEN_SECRET"], "HS256"),
    }
    for case, token in cases.items():
        assert_refused_everywhere(api, bearer(token), case)
    # The other way round from "refresh token as access": an access token cannot refresh.
    assert_error_shape(api.post("/api/v1/auth/refresh", headers=user.headers), 401)


def test_logout_ends_the_session_so_its_refresh_token_mints_nothing(api):
    """Before, logout revoked only the presented token: the refresh token kept minting access tokens."""
    user = new_account(api, "session")
    tokens = api.login(user.username)
    access, refresh = bearer(tokens["access_token"]), bearer(tokens["refresh_token"])
    refreshed = api.post("/api/v1/auth/refresh", headers=refresh)
    assert refreshed.status_code == 200
    minted = bearer(refreshed.json()["access_token"])
    assert api.post("/api/v1/auth/logout", headers=access).status_code == 204
    assert_error_shape(api.post("/api/v1/auth/refresh", headers=refresh), 401)
    assert_refused_everywhere(api, minted, "an access token the session's refresh token minted before the logout")
    assert api.get("/api/v1/auth/me", headers=user.headers).status_code == 200, "other sessions are unaffected"


def test_a_logged_out_token_stays_revoked_after_a_gateway_restart(api, platform):
    user = new_account(api, "restart")
    tokens = api.login(user.username)
    access, refresh = bearer(tokens["access_token"]), bearer(tokens["refresh_token"])
    assert api.post("/api/v1/auth/logout", headers=refresh).status_code == 204

    platform.stop("gateway")
    platform.start("gateway")

    assert_refused_everywhere(api, access, "revoked access token after a gateway restart")
    assert_error_shape(api.post("/api/v1/auth/refresh", headers=refresh), 401)
    assert_error_shape(api.post("/api/v1/auth/logout", headers=access), 401)
    assert api.get("/api/v1/auth/me", headers=user.headers).status_code == 200, "other sessions are unaffected"


def test_equal_secrets_are_refused_at_start(app_config):
    """Before, the same secret for user and internal tokens was accepted, and nothing else told the two apart."""
    for name in ("INTERNAL_TOKEN_SECRET", "MODEL_SIGNING_KEY"):
        with pytest.raises(RuntimeError, match="must all differ"):
            load_config({**app_config, name: app_config["JWT_SECRET_KEY"]}, secrets=("JWT_SECRET_KEY", name))
    with pytest.raises(RuntimeError, match="must all differ"):
        create_gateway({**app_config, "INTERNAL_TOKEN_SECRET": app_config["JWT_SECRET_KEY"]})


def test_a_token_made_to_pass_for_both_kinds_passes_for_neither(app_config):
    """Type and audience are required on each kind: a token that names both audiences is a user token or an internal
    one by its type, never both, even signed with one secret."""
    secret = app_config["INTERNAL_TOKEN_SECRET"]
    claims = {**valid_claims(1), "iss": ISSUER, "aud": [USER_TOKEN_AUDIENCE, "projects"]}
    with pytest.raises(jwt.InvalidTokenError):
        verify_internal_token(secret, jwt.encode(claims, secret, algorithm="HS256"), "projects")
    assert verify_internal_token(secret, issue_internal_token(secret, "projects", 1), "projects").user_id == 1
    untyped = {key: value for key, value in claims.items() if key != "type"}
    with pytest.raises(jwt.InvalidTokenError):
        verify_internal_token(secret, jwt.encode(untyped, secret, algorithm="HS256"), "projects")

    gateway = create_gateway({**app_config, "JWT_SECRET_KEY": secret + "-users"})
    as_internal = jwt.encode({**claims, "type": "internal"}, secret + "-users", algorithm="HS256")
    answer = gateway.test_client().get("/api/v1/auth/me", headers=bearer(as_internal))
    assert answer.status_code == 401


def test_a_remembered_token_is_still_refused_once_its_session_ends_or_it_expires(api, platform):
    """The gateway checks a token's signature once and remembers its claims until it expires: a logout must still
    take effect at once, and a token must still die at its ``exp``."""
    user = new_account(api, "remembered")
    tokens = api.login(user.username)
    access = bearer(tokens["access_token"])
    for _ in range(2):  # verified, then remembered
        assert api.get("/api/v1/auth/me", headers=access).status_code == 200
    assert api.post("/api/v1/auth/logout", headers=access).status_code == 204
    assert_refused_everywhere(api, access, "a remembered access token after its logout")

    claims = {**valid_claims(user.user_id), "exp": int(time.time()) + 2}
    short_lived = bearer(jwt.encode(claims, platform.env["JWT_SECRET_KEY"], algorithm="HS256"))
    assert api.get("/api/v1/auth/me", headers=short_lived).status_code == 200
    time.sleep(max(0.0, claims["exp"] - time.time()) + 0.5)
    assert_refused_everywhere(api, short_lived, "a remembered access token past its exp")


def test_a_token_one_app_verified_is_not_taken_by_an_app_with_another_secret(app_config, tmp_path):
    """The remembered claims are each app's own: in one process, another app does not take them on trust."""
    from services.projects import create_app as create_projects

    projects = create_projects({**app_config, "UPLOAD_TMP_DIR": str(tmp_path / "uploads")}).test_client()
    anonymous = internal_token_headers(app_config, "projects", None)
    account = {"username": "remembered", "password": "correct horse battery"}
    assert projects.post("/api/v1/auth/register", json=account, headers=anonymous).status_code == 201
    token = projects.post("/api/v1/auth/login", json=account, headers=anonymous).json["access_token"]

    unreachable = {f"{service.upper()}_URL": "http://127.0.0.1:1" for service in ("projects", "trainer", "predictor")}
    issuer = create_gateway({**app_config, **unreachable}).test_client()
    other = create_gateway({**app_config, **unreachable, "JWT_SECRET_KEY": TEST_SECRET + "-other"}).test_client()
    # Verified, so passed on to the projects service, which is down here: 503 (not 401).
    assert issuer.get("/api/v1/projects", headers=bearer(token)).status_code == 503
    assert other.get("/api/v1/projects", headers=bearer(token)).status_code == 401
