"""Services behind the gateway: reached directly they answer 401 to anything but a valid internal token addressed to
them, and identity headers a client sends through the gateway never reach them.

Already in tests/e2e/test_gateway_e2e.py: no token, ``X-User-Id`` only, a token signed with another secret and one
addressed to the gateway, on ``GET /api/v1/projects/1/``; and forged headers on the projects service's ``/auth/me``.
"""

from __future__ import annotations

import time
import uuid

import jwt
import pytest
import requests

from harness.processes import SERVICES
from shared.internal_auth import INTERNAL_ALGORITHM, INTERNAL_TOKEN_HEADER, ISSUER, issue_internal_token
from tests.security.support import FEATURE_ROW, assert_error_shape, new_account

pytestmark = pytest.mark.e2e

# One public and one internal route of each service, with a method that changes or reveals something.
ROUTES = {
    "projects": [("GET", "/api/v1/projects/"), ("GET", "/internal/projects/{project_id}"), ("GET", "/openapi.json")],
    "trainer": [
        ("GET", "/api/v1/projects/{project_id}/training-runs"),
        ("POST", "/api/v1/projects/{project_id}/models/{version}/activate"),
        ("DELETE", "/internal/projects/{project_id}/training"),
    ],
    "predictor": [("POST", "/api/v1/projects/{project_id}/predict"), ("GET", "/openapi.json")],
}


def internal_token(secret: str, audience: str, user_id: int, **changes) -> str:
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "aud": audience,
        "caller": "gateway",
        "sub": str(user_id),
        "iat": now,
        "exp": now + 60,
        "jti": uuid.uuid4().hex,
        **changes,
    }
    return jwt.encode({k: v for k, v in claims.items() if v is not None}, secret, algorithm=INTERNAL_ALGORITHM)


def forged_tokens(secret: str, service: str, user_id: int) -> dict[str, str]:
    other_service = next(name for name in SERVICES if name != service)
    now = int(time.time())
    return {
        f"addressed to {other_service}": issue_internal_token(secret, other_service, user_id),
        "expired": internal_token(secret, service, user_id, iat=now - 600, exp=now - 300),
        "no jti": internal_token(secret, service, user_id, jti=None),
        "no exp": internal_token(secret, service, user_id, exp=None),
        "another issuer": internal_token(secret, service, user_id, iss="someone-else"),
        "HS512": jwt.encode(
            {"iss": ISSUER, "aud": service, "sub": str(user_id), "iat": now, "exp": now + 60, "jti": "x"},
            secret + "-padding-for-hs512-keys-that-want-64-bytes-or-more",
            algorithm="HS512",
        ),
        "alg none": jwt.encode(
            {"iss": ISSUER, "aud": service, "sub": str(user_id), "iat": now, "exp": now + 60, "jti": "x"},
            None,
            algorithm="none",
        ),
        "a user's access token": "",  # filled by the test: the gateway's tokens are not internal tokens
    }


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_refuses_forged_or_misaddressed_internal_tokens(service, platform, session_api, trained_project):
    secret = platform.env["INTERNAL_TOKEN_SECRET"]
    owner = trained_project.owner
    ids = {"project_id": trained_project.project_id, "version": trained_project.model_version}
    tokens = forged_tokens(secret, service, owner.user_id)
    tokens["a user's access token"] = owner.headers["Authorization"].removeprefix("Bearer ")
    for method, template in ROUTES[service]:
        url = platform.url(service) + template.format(**ids)
        body = {"json": FEATURE_ROW} if method == "POST" else {}
        valid = {INTERNAL_TOKEN_HEADER: issue_internal_token(secret, service, owner.user_id)}
        if method == "GET":  # the control: the same call with a valid token is answered (so a 401 below means refused)
            assert requests.get(url, headers=valid, timeout=30).status_code == 200, (service, template)
        attempts = {
            **{case: {INTERNAL_TOKEN_HEADER: token} for case, token in tokens.items()},
            "no token, user headers": {"X-User-Id": str(owner.user_id), "X-Forwarded-User": str(owner.user_id)},
            "bearer instead of internal": owner.headers,
            "token in another header": {"X-Internal-Token-Forged": valid[INTERNAL_TOKEN_HEADER]},
        }
        for case, headers in attempts.items():
            answer = requests.request(method, url, headers=headers, timeout=30, **body)
            assert answer.status_code == 401, (service, template, case, answer.status_code, answer.text[:300])
            assert_error_shape(answer, 401)
    # Nothing above changed A's objects (the DELETE of their training and the activation were refused).
    models = session_api.get(f"/api/v1/projects/{trained_project.project_id}/models", headers=owner.headers).json()
    assert [model["version"] for model in models if model["active"]] == [trained_project.model_version]


IDENTITY_HEADER_NAMES = ("X-Internal-Token", "x-internal-token", "X-INTERNAL-TOKEN", "X_Internal_Token")


def test_identity_headers_sent_through_the_gateway_never_reach_a_service(platform, session_api, trained_project):
    """A (owner of a trained project) sends tokens naming B, signed with the real internal secret (as if leaked).

    Sent straight to a service, such a token makes A's objects look missing or empty (B owns nothing); through the
    gateway it must change nothing: A keeps seeing A's project, runs and model.
    """
    secret = platform.env["INTERNAL_TOKEN_SECRET"]
    owner, project_id = trained_project.owner, trained_project.project_id
    b = new_account(session_api, "impersonated")
    calls = {
        "projects": ("GET", f"/api/v1/projects/{project_id}", {}),
        "trainer": ("GET", f"/api/v1/projects/{project_id}/training-runs", {}),
        "predictor": ("POST", f"/api/v1/projects/{project_id}/predict", {"json": FEATURE_ROW}),
    }
    for service, (method, path, body) in calls.items():
        as_b = issue_internal_token(secret, service, b.user_id)
        as_b_headers = {INTERNAL_TOKEN_HEADER: as_b}
        genuine = session_api.request(method, path, headers=owner.headers, **body)
        assert genuine.status_code == 200, (service, genuine.text)
        assert genuine.json(), service
        # The control: the service accepts this token and answers as B, who sees nothing of A's.
        direct = requests.request(method, platform.url(service) + path, headers=as_b_headers, timeout=30, **body)
        assert direct.status_code in (200, 404, 409), (service, direct.status_code, direct.text)
        assert direct.status_code != 200 or direct.json() != genuine.json(), service
        for name in IDENTITY_HEADER_NAMES:
            claims = {name: as_b, "X-User-Id": str(b.user_id), "X-User-Name": b.username}
            through = session_api.request(method, path, headers={**owner.headers, **claims}, **body)
            assert through.status_code == 200, (service, name, through.status_code, through.text[:300])
            assert through.json() == genuine.json(), (service, name)
