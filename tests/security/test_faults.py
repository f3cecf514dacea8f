"""Dependencies failing under load: the database restarted, the object store gone during an upload, the predictor
restarted. Clients get a JSON 503 (never a 500, never a wrong answer); liveness stays 200; everything recovers by
itself, without restarting our processes.

The database faults use a throwaway PostgreSQL cluster (``initdb``/``pg_ctl`` in a temporary folder, on a free port)
and a platform of its own with its own S3 endpoint, so stopping them disturbs nothing else.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import create_engine, text

from harness.data import parquet_bytes, sales_frame
from harness.processes import SERVICES, Platform, free_port
from harness.seaweedfs import SeaweedFS
from shared.config import normalize_database_url
from shared.internal_auth import INTERNAL_TOKEN_HEADER, issue_internal_token
from shared.migrate import upgrade
from tests.platform_harness import ApiClient, make_platform
from tests.security.support import FEATURE_ROW, PARQUET, assert_error_shape, new_account

pytestmark = pytest.mark.e2e

OUTAGE_TIMEOUT_S = 60
RECOVERY_TIMEOUT_S = 90
LOAD_MAX_REQUESTS = 2000
LOAD_MAX_SECONDS = 180


def postgres_bin_dir() -> Path | None:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    return Path(candidates[-1]).parent if candidates else None


class ThrowawayPostgres:
    """A PostgreSQL cluster of our own in a temporary folder, run as the ``postgres`` user when we are root."""

    def __init__(self, bin_dir: Path, root: Path) -> None:
        self.bin_dir = bin_dir
        self.root = root
        self.data_dir = root / "data"
        self.port = free_port()
        self.as_root = os.geteuid() == 0

    def run(self, tool: str, *args: str) -> None:
        command = [str(self.bin_dir / tool), *args]
        if self.as_root:
            command = ["runuser", "-u", "postgres", "--", *command]
        completed = subprocess.run(command, capture_output=True, text=True, timeout=120)
        assert completed.returncode == 0, f"{tool} failed: {completed.stdout}\n{completed.stderr}\n{self.log_tail()}"

    def init(self) -> None:
        if self.as_root:
            shutil.chown(self.root, "postgres", "postgres")
        self.run("initdb", "-D", str(self.data_dir), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self.run("pg_ctl", "-D", str(self.data_dir), "-o", options, "-l", str(self.root / "server.log"), "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        self.run("pg_ctl", "-D", str(self.data_dir), "-m", mode, "-w", "stop")

    def url(self, database: str) -> str:
        return normalize_database_url(f"postgresql://postgres@127.0.0.1:{self.port}/{database}")

    def log_tail(self) -> str:
        log = self.root / "server.log"
        return log.read_text(errors="replace")[-2000:] if log.exists() else ""


@pytest.fixture(scope="module")
def throwaway_postgres() -> Iterator[ThrowawayPostgres]:
    bin_dir = postgres_bin_dir()
    if bin_dir is None:
        pytest.skip("no PostgreSQL server binaries under /usr/lib/postgresql/*/bin to make a throwaway cluster")
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        pytest.skip("running as root without runuser: initdb refuses root and there is no way to drop privileges")
    root = Path(tempfile.mkdtemp(prefix="salesml-pg-"))
    cluster = ThrowawayPostgres(bin_dir, root)
    try:
        cluster.init()
        cluster.start()
        admin = create_engine(cluster.url("postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text("CREATE DATABASE salesml"))
        admin.dispose()
        upgrade(cluster.url("salesml"))
        yield cluster
    finally:
        try:
            cluster.stop("immediate")
        except AssertionError:
            pass  # already stopped
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def own_s3(tmp_path_factory) -> Iterator[SeaweedFS]:
    """A real S3 server of this module's own (SeaweedFS), stopped and started again by the tests."""
    s3 = SeaweedFS(tmp_path_factory.mktemp("own-s3"), "salesml-faults", "salesml-faults-secret")
    s3.start()
    yield s3
    s3.stop()


@pytest.fixture(scope="module")
def fault_platform(throwaway_postgres, own_s3, tmp_path_factory) -> Iterator[Platform]:
    """Gateway and services (no worker) on the throwaway cluster and the stoppable S3 endpoint."""
    bucket = f"salesml-faults-{uuid.uuid4().hex[:12]}"
    own_s3.make_bucket(bucket)
    running = make_platform(
        throwaway_postgres.url("salesml"),
        own_s3.settings,
        bucket,
        tmp_path_factory.mktemp("fault-platform"),
        with_worker=False,
    )
    try:
        running.start_all()
        yield running
    finally:
        running.stop_all()


class Load:
    """Requests sent from a background thread until stopped (or a bounded count/time), each answer recorded."""

    def __init__(self, send) -> None:
        self.send = send
        self.answers: list[tuple[int, str, str]] = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        deadline = time.monotonic() + LOAD_MAX_SECONDS
        while not self.stopping.is_set() and len(self.answers) < LOAD_MAX_REQUESTS and time.monotonic() < deadline:
            try:
                answer = self.send()
                self.answers.append((answer.status_code, answer.headers.get("Content-Type", ""), answer.text))
            except requests.RequestException as exc:
                self.answers.append((0, "", repr(exc)))
            time.sleep(0.02)

    def __enter__(self) -> Load:
        self.thread.start()
        return self

    def __exit__(self, *_exc: Any) -> None:
        self.stopping.set()
        self.thread.join(30)


def wait_for(predicate, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, f"{what} not seen within {timeout_s}s"
        time.sleep(0.2)


def status_of(url: str) -> int:
    try:
        return requests.get(url, timeout=10).status_code
    except requests.RequestException:
        return 0


def direct_calls(project_id: int) -> dict[str, tuple[str, str, dict]]:
    """One database-backed call per service, made straight to it with a valid internal token."""
    return {
        "projects": ("GET", "/api/v1/projects/", {}),
        "trainer": ("GET", f"/api/v1/projects/{project_id}/training-runs", {}),
        "predictor": ("POST", f"/api/v1/projects/{project_id}/predict", {"json": FEATURE_ROW}),
    }


def call_service(platform: Platform, service: str, user_id: int, method: str, path: str, body: dict):
    token = issue_internal_token(platform.env["INTERNAL_TOKEN_SECRET"], service, user_id)
    return requests.request(
        method, platform.url(service) + path, headers={INTERNAL_TOKEN_HEADER: token}, timeout=30, **body
    )


def test_the_database_restarted_under_load(fault_platform, throwaway_postgres):
    platform = fault_platform
    api = ApiClient(platform.gateway_url)
    user = new_account(api, "outage")
    project = api.post("/api/v1/projects", json={"name": "kept"}, headers=user.headers).json()
    listing = f"/api/v1/projects/{project['id']}"
    everyone = ("gateway", *SERVICES)

    with Load(lambda: api.get(listing, headers=user.headers)) as load:
        wait_for(lambda: len(load.answers) >= 5, 30, "load before the outage")
        throwaway_postgres.stop()
        try:
            wait_for(lambda: status_of(f"{platform.gateway_url}/health/ready") == 503, OUTAGE_TIMEOUT_S, "503")
            for name in everyone:
                assert status_of(f"{platform.url(name)}/health") == 200, f"{name}'s liveness failed with the database"
                ready = requests.get(f"{platform.url(name)}/health/ready", timeout=30)
                assert "database" in assert_error_shape(ready, 503)["errors"], name
            assert_error_shape(api.get(listing, headers=user.headers), 503)
            outage_login = {"username": user.username, "password": "correct-horse-battery"}
            assert_error_shape(api.post("/api/v1/auth/login", json=outage_login), 503)
            for service, (method, path, body) in direct_calls(project["id"]).items():
                assert_error_shape(call_service(platform, service, user.user_id, method, path, body), 503)
            wait_for(lambda: len(load.answers) >= 10, 30, "load during the outage")
        finally:
            throwaway_postgres.start()

        for name in everyone:
            wait_for(lambda name=name: status_of(f"{platform.url(name)}/health/ready") == 200, RECOVERY_TIMEOUT_S, name)
        wait_for(lambda: load.answers[-1][0] == 200, RECOVERY_TIMEOUT_S, "the load answered again")

    assert all(platform.is_running(name) for name in everyone), "a process died (or was restarted) during the outage"
    assert api.get(listing, headers=user.headers).json()["name"] == "kept"
    statuses = {status for status, _, _ in load.answers}
    assert 200 in statuses and 503 in statuses, statuses
    for status, content_type, body in load.answers:
        assert status in (200, 503), (status, body[:500])
        assert content_type.startswith("application/json") and "Traceback" not in body
    api.close()


def test_the_object_store_unreachable_during_an_upload_is_503_with_no_row(fault_platform, own_s3, throwaway_postgres):
    platform = fault_platform
    api = ApiClient(platform.gateway_url)
    user = new_account(api, "no-s3")
    project = api.post("/api/v1/projects", json={"name": "uploads"}, headers=user.headers).json()
    upload = f"/api/v1/projects/{project['id']}/datasets"
    data = parquet_bytes(sales_frame(30))
    engine = create_engine(throwaway_postgres.url("salesml"))

    def rows() -> int:
        with engine.connect() as connection:
            query = text("SELECT count(*) FROM datasets WHERE project_id = :id")
            return connection.execute(query, {"id": project["id"]}).scalar_one()

    own_s3.stop()
    try:
        refused = api.post(upload, data=data, headers={**user.headers, "Content-Type": PARQUET})
        assert_error_shape(refused, 503)
        created = api.post(
            "/api/v1/projects",
            data={"name": "with data"},
            files={"data_file": ("d.parquet", data, PARQUET)},
            headers=user.headers,
        )
        assert_error_shape(created, 503)
        assert rows() == 0
        assert [p["name"] for p in api.get("/api/v1/projects", headers=user.headers).json()] == ["uploads"]
        assert list(Path(platform.env["UPLOAD_TMP_DIR"]).iterdir()) == []
    finally:
        own_s3.start()
    stored = api.post(upload, data=data, headers={**user.headers, "Content-Type": PARQUET})
    assert stored.status_code == 201, stored.text
    assert rows() == 1
    engine.dispose()
    api.close()


def test_the_predictor_restarted_under_load_never_gives_a_wrong_answer(platform, session_api, trained_project):
    path = f"/api/v1/projects/{trained_project.project_id}/predict"
    headers = trained_project.owner.headers
    correct = session_api.post(path, json=FEATURE_ROW, headers=headers)
    assert correct.status_code == 200, correct.text
    api = ApiClient(platform.gateway_url)
    with Load(lambda: api.post(path, json=FEATURE_ROW, headers=headers)) as load:
        wait_for(lambda: len(load.answers) >= 5, 30, "load before the restart")
        platform.stop("predictor")
        wait_for(lambda: any(status == 503 for status, _, _ in load.answers), 30, "503 while the predictor is down")
        platform.start("predictor")
        seen = len(load.answers)
        wait_for(lambda: len(load.answers) >= seen + 5, 30, "load after the restart")
    api.close()
    statuses = {status for status, _, _ in load.answers}
    assert 200 in statuses and 503 in statuses, statuses
    for status, content_type, body in load.answers:
        assert status in (200, 503), (status, body[:500])
        assert content_type.startswith("application/json")
        if status == 200:
            assert json.loads(body) == correct.json()
        else:
            assert "predictor" in json.loads(body)["message"]
