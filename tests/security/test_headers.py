"""Security headers on every answer, and an API reference page that loads nothing from another site (it works
offline: Swagger UI's files come from the swagger-ui-bundle package, served by the gateway)."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from tests.security.support import new_account

pytestmark = pytest.mark.e2e

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def assert_secure_headers(answer) -> None:
    headers = answer.headers
    assert headers["X-Content-Type-Options"] == "nosniff", (answer.url, dict(headers))
    assert headers["Referrer-Policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]


def test_every_answer_has_the_security_headers_and_tokens_are_never_cached(session_api):
    account = new_account(session_api, "headers")
    login = session_api.post(
        "/api/v1/auth/login", json={"username": account.username, "password": "correct-horse-battery"}
    )
    answers = {
        "token pair": login,
        "refresh": session_api.post(
            "/api/v1/auth/refresh", headers={"Authorization": f"Bearer {login.json()['refresh_token']}"}
        ),
        "a service's JSON": session_api.get("/api/v1/projects", headers=account.headers),
        "the gateway's own 404": session_api.get("/api/v1/nothing-here"),
        "a 401": session_api.get("/api/v1/auth/me"),
        "the OpenAPI document": session_api.get("/api/v1/openapi.json"),
    }
    for case, answer in answers.items():
        assert_secure_headers(answer)
        assert answer.headers["Cache-Control"] == "no-store", case
        assert answer.headers["Content-Security-Policy"] == "default-src 'none'; frame-ancestors 'none'", case


def test_the_api_reference_loads_only_its_own_files(session_api, platform):
    page = session_api.get("/api/docs")
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert_secure_headers(page)
    policy = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]
    assert "default-src 'none'" in policy
    references = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert references and all(reference.startswith("/api/docs/") for reference in references), references
    assert "<script>" not in page.text, "no inline script: the policy allows none"
    for reference, media_type, at_least in (
        ("/api/docs/swagger-ui-bundle.js", "javascript", 500_000),
        ("/api/docs/swagger-ui.css", "text/css", 50_000),
        ("/api/docs/start.js", "javascript", 50),
    ):
        asset = session_api.get(reference)
        assert asset.status_code == 200 and media_type in asset.headers["Content-Type"], reference
        assert len(asset.content) >= at_least
        assert asset.headers["X-Content-Type-Options"] == "nosniff"
    for elsewhere in ("/api/docs/../../etc/passwd", "/api/docs/index.html", "/api/docs/swagger-ui-bundle.js.map"):
        assert session_api.get(elsewhere).status_code == 404, elsewhere


@pytest.mark.skipif(CHROMIUM is None, reason="needs chromium (apt-get install chromium) to render the page")
def test_the_api_reference_renders_in_a_browser_with_no_network_but_the_gateway(platform, tmp_path):
    """Headless Chromium runs Swagger UI from the gateway alone (nothing else is reachable from here), under the
    page's own Content-Security-Policy: the operations of the merged document appear."""
    rendered = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={tmp_path}",
         "--enable-logging=stderr", "--v=0", "--virtual-time-budget=15000", "--dump-dom",
         f"{platform.gateway_url}/api/docs"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert rendered.returncode == 0, rendered.stderr[-2000:]
    dom = rendered.stdout
    assert "SalesML API" in dom and 'class="swagger-ui' in dom, dom[:2000]
    assert "/api/v1/projects/{project_id}/predict" in dom
    assert "Refused to" not in rendered.stderr, rendered.stderr[-2000:]  # no CSP violation in the console
