"""Bounded everything, through the gateway: login throttling, runs per user at once, page sizes."""

from __future__ import annotations

import pytest

from harness.data import sales_frame
from tests.security.support import TINY_TRAINING, assert_error_shape, create_project_with_data, new_account

pytestmark = pytest.mark.e2e


def test_repeated_failed_logins_lock_the_account_with_429(api, platform):
    user = new_account(api, "throttled")
    wrong = {"username": user.username, "password": "not-the-password"}
    for _ in range(int(platform.env.get("LOGIN_MAX_FAILURES", 5))):
        assert_error_shape(api.post("/api/v1/auth/login", json=wrong), 401)
    locked = api.post("/api/v1/auth/login", json={"username": user.username, "password": "correct-horse-battery"})
    assert_error_shape(locked, 429)
    assert int(locked.headers["Retry-After"]) > 0
    assert api.get("/api/v1/auth/me", headers=user.headers).status_code == 200, "tokens already issued still work"


def test_one_run_over_the_per_user_cap_is_429_with_nothing_queued(api, platform):
    user = new_account(api, "busy")
    project = create_project_with_data(api, user, sales_frame(), "busy")
    runs = f"/api/v1/projects/{project['id']}/training-runs"
    platform.stop("worker")  # the runs stay queued, so the count of active runs is exact
    try:
        cap = 2  # TRAINING_MAX_ACTIVE_RUNS_PER_USER's default, which the platform keeps
        train = f"/api/v1/projects/{project['id']}/train"
        started = [api.post(train, json=TINY_TRAINING, headers=user.headers) for _ in range(cap)]
        assert [answer.status_code for answer in started] == [202] * cap
        over = api.post(train, json=TINY_TRAINING, headers=user.headers)
        assert_error_shape(over, 429)
        assert len(api.get(runs, headers=user.headers).json()) == cap
        for answer in started:
            assert api.post(f"{runs}/{answer.json()['id']}/cancel", headers=user.headers).status_code == 202
        again = api.post(train, json=TINY_TRAINING, headers=user.headers)
        assert again.status_code == 202, "cancelled runs no longer count"
        api.post(f"{runs}/{again.json()['id']}/cancel", headers=user.headers)
    finally:
        platform.start("worker")


@pytest.mark.parametrize("page_size", ["0", "101", "100000", "-1", "ten"])
def test_page_sizes_over_the_cap_or_invalid_are_422(api, page_size):
    user = new_account(api, "pager")
    project = api.post("/api/v1/projects", json={"name": "paged"}, headers=user.headers).json()
    for path in ("/api/v1/projects", f"/api/v1/projects/{project['id']}/training-runs"):
        answer = api.get(path, params={"page_size": page_size}, headers=user.headers)
        assert "page_size" in assert_error_shape(answer, 422)["errors"], (path, answer.text)
    assert api.get("/api/v1/projects", params={"page_size": "100"}, headers=user.headers).status_code == 200
