"""End-to-end harness: the real platform as gunicorn processes on free 127.0.0.1 ports, reached through the gateway.

A pytest plugin (``pytest_plugins`` in ``tests/conftest.py``), so every test folder shares the one session platform.

``platform`` (session-scoped) starts the projects, trainer and predictor services, the trainer worker and the
gateway against a PostgreSQL database of its own and a bucket on the S3 endpoint, with explicit test secrets (not the
dev mode), and stops every process at the end. Tests may stop and
start one service (``platform.stopped("trainer")``) to see how the rest behaves. ``api`` is a client of the
gateway with ``register_and_login()``.

``pytest --platform=stack`` (``make test-stack``) runs the tests on ``platform``, and only those, against
``make stack`` instead: the production shape as an operator starts it (``tests/helpers/stack_platform.py``).

Every process logs to a file under the session's temporary folder; ``platform.log_tail(name)`` shows the end of
one (start failures include it).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from harness.databases import throwaway_database
from harness.make_stack import make_stack
from harness.processes import SERVICES, WORKER, Platform, env_value, free_port, platform_env
from harness.seaweedfs import weed_binary
from shared.config import MIB
from tests.conftest import POSTGRES_SERVER, TEST_SECRET
from tests.helpers.stack_platform import StackPlatform

DEFAULT_PASSWORD = "correct-horse-battery"
# The gateway serves its /metrics to this bearer token only; the worker serves its metrics at platform.url("worker").
METRICS_TOKEN = TEST_SECRET + "-metrics"

# Limits small enough that tests can cross them without moving hundreds of megabytes. Every test client comes from
# 127.0.0.1, so the per-address throttles are out of the way; tests of them restart the projects service with small
# ones (``Platform.restarted_with``) and send from addresses of their own.
E2E_SETTINGS: dict[str, Any] = {
    "UPLOAD_MAX_BYTES": 8 * MIB,
    "LOGIN_MAX_FAILURES_PER_ADDRESS": 1_000_000,
    "REGISTRATIONS_PER_ADDRESS": 1_000_000,
    "LOG_LEVEL": "WARNING",
}


def unique_username(prefix: str = "user") -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


def make_platform(
    database_url: str, s3_settings: dict[str, Any], bucket: str, run_dir: Path, with_worker: bool = True
) -> Platform:
    """A platform (not started yet) on free ports against this database and bucket, logging under ``run_dir``."""
    ports = {name: free_port() for name in (*SERVICES, WORKER, "gateway")}
    settings: dict[str, Any] = {
        "OBJECT_STORE_URL": f"s3://{bucket}",
        **s3_settings,
        "JWT_SECRET_KEY": TEST_SECRET,
        "INTERNAL_TOKEN_SECRET": TEST_SECRET + "-internal",
        "MODEL_SIGNING_KEY": TEST_SECRET + "-models",
        "METRICS_TOKEN": METRICS_TOKEN,
        "WORKER_METRICS_ADDRESS": f"127.0.0.1:{ports[WORKER]}",
        **E2E_SETTINGS,
    }
    return Platform(platform_env(database_url, run_dir, ports, settings), ports, run_dir, with_worker)


@pytest.fixture(scope="session")
def platform_bucket(s3_server: dict[str, Any]) -> str:
    from minio import Minio

    bucket = f"salesml-e2e-{uuid.uuid4().hex[:12]}"
    Minio(
        s3_server["S3_ENDPOINT"],
        access_key=s3_server["S3_ACCESS_KEY"],
        secret_key=s3_server["S3_SECRET_KEY"],
        secure=False,
        region=s3_server["S3_REGION"],
    ).make_bucket(bucket)
    return bucket


@pytest.fixture(scope="session")
def platform_database() -> Iterator[str]:
    """The platform's own database: the tests that empty the shared test database (``clean_database``) between
    the platform's tests never take its users, projects and ids from under it."""
    with throwaway_database(POSTGRES_SERVER, "salesml_e2e") as url:
        yield url


@pytest.fixture(scope="session")
def platform(
    request: pytest.FixtureRequest, platform_database: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Platform | StackPlatform]:
    """Every service, the worker and the gateway as real processes (or ``make stack``, with ``--platform=stack``);
    all stopped at the end."""
    folder = tmp_path_factory.mktemp("platform")
    if request.config.getoption("--platform") == "stack":
        yield from _stack_platform(request, platform_database, folder)
        return
    s3_server = request.getfixturevalue("s3_server")
    running = make_platform(platform_database, s3_server, request.getfixturevalue("platform_bucket"), folder)
    request.session.stash[_RUNNING_PLATFORM] = running
    try:
        running.start_all()
        yield running
    finally:
        running.stop_all()


def _stack_platform(request: pytest.FixtureRequest, database_url: str, folder: Path) -> Iterator[StackPlatform]:
    try:
        weed_binary()
    except RuntimeError as missing:
        pytest.skip(str(missing))
    settings = {
        **{name: env_value(value) for name, value in E2E_SETTINGS.items()},
        "METRICS_TOKEN": METRICS_TOKEN,
        "UPLOAD_TMP_DIR": str(folder / "uploads"),
    }
    with make_stack(folder, database_url, settings=settings) as stack:
        running = StackPlatform(stack, database_url, settings)
        request.session.stash[_RUNNING_PLATFORM] = running
        yield running


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--platform",
        choices=("processes", "stack"),
        default="processes",
        help="where the end-to-end tests run: the harness's own processes (default), or `make stack` (then only "
        "the tests on the platform fixture are collected)",
    )


# The platform stops right after its last test: its processes (and its worker's spare training process) would
# otherwise share the two cores and the memory with every test after it.
_LAST_PLATFORM_TEST = pytest.StashKey[str]()
_RUNNING_PLATFORM = pytest.StashKey[Platform | StackPlatform]()


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    users = [item for item in items if "platform" in getattr(item, "fixturenames", ())]
    if config.getoption("--platform") == "stack":
        chosen = set(users)
        config.hook.pytest_deselected(items=[item for item in items if item not in chosen])
        items[:] = users
    if users:
        session.stash[_LAST_PLATFORM_TEST] = users[-1].nodeid


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None):
    result = yield
    if item.nodeid == item.session.stash.get(_LAST_PLATFORM_TEST, None):
        running = item.session.stash.get(_RUNNING_PLATFORM, None)
        if running is not None:
            running.stop_all()
    return result


class ApiClient:
    """A ``requests.Session`` aimed at the gateway: ``api.get("/api/v1/projects", headers=...)``."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = requests.Session()

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 120)
        return self.session.request(method, self.base_url + path, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("PATCH", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("DELETE", path, **kwargs)

    def register(self, username: str, password: str = DEFAULT_PASSWORD) -> requests.Response:
        return self.post("/api/v1/auth/register", json={"username": username, "password": password})

    def login(self, username: str, password: str = DEFAULT_PASSWORD) -> dict[str, Any]:
        """The token pair (fails the test unless the login succeeds)."""
        answer = self.post("/api/v1/auth/login", json={"username": username, "password": password})
        assert answer.status_code == 200, answer.text
        return answer.json()

    def register_and_login(self, username: str | None = None, password: str = DEFAULT_PASSWORD) -> dict[str, str]:
        """A new account (a unique name unless given); returns the ``Authorization`` header of its access token."""
        username = username or unique_username()
        registered = self.register(username, password)
        assert registered.status_code == 201, registered.text
        tokens = self.login(username, password)
        return bearer(tokens["access_token"])

    def close(self) -> None:
        self.session.close()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def api(platform: Platform) -> Iterator[ApiClient]:
    client = ApiClient(platform.gateway_url)
    yield client
    client.close()
