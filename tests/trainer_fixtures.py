"""What the trainer's tests share: the real projects service on a free port, users with projects and datasets, the
trainer app configured against them (a plugin of ``tests/conftest.py``), reading and waiting for a
run's row, and real worker processes."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from flask import Flask

from services.projects import create_app as create_projects
from services.trainer import create_app as create_trainer
from shared.config import REPO_ROOT
from shared.db import db
from shared.media_types import PARQUET
from shared.model_artifacts import ArtifactRecord, load_pipeline
from shared.training_records import ModelVersion, TrainingRun
from tests.conftest import internal_token_headers
from tests.helpers.servers import served


def sales_frame(rows: int = 120, seed: int = 0) -> pd.DataFrame:
    """Daily sales with a date, a category and a numeric driver; sales follow a plain rule plus noise."""
    rng = np.random.default_rng(seed)
    price = rng.uniform(1, 10, rows)
    store = rng.choice(["north", "south", "east"], rows)
    sales = 50 - 3 * price + np.where(store == "north", 10, 0) + rng.normal(0, 1, rows)
    return pd.DataFrame(
        {"day": pd.date_range("2024-01-01", periods=rows, freq="D"), "price": price, "store": store, "sales": sales}
    )


def advertising_frame(rows: int = 200, seed: int = 0) -> pd.DataFrame:
    """Advertising budgets and sales, shaped like the ISLR Advertising data (TV, radio, newspaper → sales), from a
    rule with an interaction (what trees learn and a line does not) plus noise: long enough to train for seconds."""
    rng = np.random.default_rng(seed)
    tv = rng.uniform(0, 300, rows)
    radio = rng.uniform(0, 50, rows)
    newspaper = rng.uniform(0, 100, rows)
    sales = 3 + 0.02 * tv + 0.03 * radio + 0.001 * tv * radio + rng.normal(0, 0.5, rows)
    return pd.DataFrame({"TV": tv, "radio": radio, "newspaper": newspaper, "sales": sales.round(2)})


@dataclass(frozen=True)
class ProjectWithData:
    user_id: int
    project_id: int
    dataset_id: str


@pytest.fixture
def served_projects_app(app_config: dict[str, Any]) -> Iterator[Flask]:
    """The real projects service, served over HTTP on a free port (the trainer asks it for training input)."""
    app = create_projects(app_config)
    with served(app) as url:
        app.config["SERVED_AT"] = url
        yield app
    dispose_engines(app)


def dispose_engines(app: Flask) -> None:
    """Close the app's pooled connections now (many apps per session would exhaust PostgreSQL's clients)."""
    with app.app_context():
        for engine in db.engines.values():
            engine.dispose()


@pytest.fixture
def trainer_config(app_config: dict[str, Any], served_projects_app: Flask, tmp_path: Path) -> dict[str, Any]:
    return {
        **app_config,
        "PROJECTS_URL": served_projects_app.config["SERVED_AT"],
        "TRAINING_WORK_DIR": str(tmp_path / "training"),
        "TRAINING_HEARTBEAT_SECONDS": 0.5,
        "WORKER_POLL_SECONDS": 0.2,
    }


@pytest.fixture
def make_trainer_app(trainer_config: dict[str, Any]) -> Iterator[Callable[..., Flask]]:
    """Trainer apps on the test configuration with some settings changed: ``make_trainer_app(TRAINING_GRACE_S=1)``."""
    apps: list[Flask] = []

    def make(**overrides: Any) -> Flask:
        apps.append(create_trainer({**trainer_config, **overrides}))
        return apps[-1]

    yield make
    for app in apps:
        dispose_engines(app)


@pytest.fixture
def trainer_app(make_trainer_app: Callable[..., Flask]) -> Flask:
    return make_trainer_app()


@pytest.fixture
def make_project(served_projects_app: Flask, app_config: dict[str, Any]) -> Callable[..., ProjectWithData]:
    """A user (new, or ``user_id``) with a project whose dataset is ``frame``, through the projects service's API."""
    client = served_projects_app.test_client()

    def make(frame: pd.DataFrame, target: str = "sales", user_id: int | None = None) -> ProjectWithData:
        if user_id is None:
            registered = client.post(
                "/api/v1/auth/register",
                json={"username": f"user-{uuid.uuid4().hex[:10]}", "password": "correct horse battery"},
                headers=internal_token_headers(app_config, "projects", None),
            )
            assert registered.status_code == 201, registered.json
            user_id = registered.json["id"]
        headers = internal_token_headers(app_config, "projects", user_id)
        project = client.post("/api/v1/projects", json={"name": "sales", "target": target}, headers=headers)
        assert project.status_code == 201, project.json
        buffer = io.BytesIO()
        frame.to_parquet(buffer, index=False)
        dataset = client.post(
            f"/api/v1/projects/{project.json['id']}/datasets",
            data=buffer.getvalue(),
            headers={**headers, "Content-Type": PARQUET},
        )
        assert dataset.status_code == 201, dataset.json
        return ProjectWithData(user_id, project.json["id"], dataset.json["id"])

    return make


def stored_pipeline(app: Flask) -> Any:
    """The one stored model's pipeline, loaded as the predictor loads it (HMAC, sha256 and versions checked)."""
    with app.app_context():
        stored = db.session.query(ModelVersion).one()
        record = ArtifactRecord(
            stored.project_id, stored.version, stored.sha256, stored.artifact_hmac, stored.library_versions
        )
        return load_pipeline(stored.artifact, record, app.config["MODEL_SIGNING_KEY"])


def load_run(app: Flask, run_id: int) -> TrainingRun:
    """The run's row as it is now, detached from the session."""
    with app.app_context():
        run = db.session.get(TrainingRun, run_id)
        assert run is not None
        db.session.expunge(run)
        return run


def wait_for_run(app: Flask, run_id: int, condition: Callable[[TrainingRun], bool], timeout: float) -> TrainingRun:
    """Poll the run's row until ``condition`` holds (generous timeouts: these machines are shared and noisy)."""
    deadline = time.monotonic() + timeout
    while True:
        run = load_run(app, run_id)
        if condition(run):
            return run
        if time.monotonic() > deadline:
            raise AssertionError(f"run {run_id} still {run.status}/{run.stage} after {timeout} s")
        time.sleep(0.2)


def start_worker_process(config: dict[str, Any], log_path: Path, worker_id: str) -> subprocess.Popen:
    """``python -m services.trainer.worker`` as a real process in its own session, configured by its environment."""
    env = {**os.environ, "WORKER_ID": worker_id}
    for key, value in config.items():
        if key in {"SALESML_DEV_MODE"} or not isinstance(value, str | int | float | bool):
            continue
        env[key] = str(int(value)) if isinstance(value, bool) else str(value)
    with log_path.open("ab") as log_file:
        return subprocess.Popen(
            [sys.executable, "-m", "services.trainer.worker"],
            cwd=REPO_ROOT,
            env=env,
            stdout=log_file,
            stderr=log_file,
            start_new_session=True,
        )
