"""What the benchmark's sections share: the running platform, the signed-in user, and calls through the gateway."""

from __future__ import annotations

import io
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import requests
from sqlalchemy import create_engine, text

from bench.platform import BenchPlatform
from cli.client import SalesMLClient
from cli.credentials import CredentialStore
from services.predictor.input_contract import InputContract
from shared.media_types import PARQUET
from shared.model_artifacts import ArtifactRecord, load_pipeline

FEATURE_ROW = {"product": "Creatina", "price": 150.0, "promotion": 0, "weekday": "Saturday"}
TERMINAL_RUN_STATES = ("succeeded", "failed", "cancelled")
RUN_POLL_SECONDS = 0.2
PASSWORD = "benchmark-password-0123"


@dataclass(frozen=True)
class Sizes:
    training_rows: int
    training_params: dict[str, Any]
    latency_requests: int
    original_requests: int
    clients: tuple[int, ...]
    throughput_requests: int
    throughput_seconds: float
    parquet_rows: tuple[int, ...]
    parquet_repeats: int
    training_repeats: int
    dask: bool
    accuracy: bool
    accuracy_timeout_s: float = 1500.0


FULL = Sizes(
    training_rows=2000,
    training_params={},  # the platform's defaults: every fast ("turbo") PyCaret model, 5 folds, sorted by R2
    latency_requests=300,
    original_requests=30,
    clients=(1, 8, 32),
    throughput_requests=20_000,
    throughput_seconds=10.0,
    parquet_rows=(100_000, 1_000_000),
    parquet_repeats=3,
    training_repeats=3,
    dask=True,
    accuracy=True,
)
QUICK = Sizes(
    training_rows=300,
    training_params={"include": ["lr", "dt"], "folds": 2},
    latency_requests=20,
    original_requests=3,
    clients=(1, 8, 32),
    throughput_requests=100,
    throughput_seconds=1.0,
    parquet_rows=(1_000, 5_000),
    parquet_repeats=1,
    training_repeats=1,
    dask=False,
    accuracy=False,
)


@dataclass
class Session:
    """What the sections share: the running platform, the signed-in user and the supplements model."""

    platform: BenchPlatform
    client: SalesMLClient
    database_url: str
    run_dir: Path
    sizes: Sizes
    access_token: str
    user_id: int
    project_id: int = 0
    model: ServingModel | None = None
    # Every regression project the run trained, with the rows it was trained on: section 7 scores them both ways.
    trained: dict[str, tuple[int, pd.DataFrame]] = field(default_factory=dict)

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}

    @property
    def pipeline(self) -> Any:
        """The supplements model's pipeline."""
        assert self.model is not None, "the training section sets the model"
        return self.model.pipeline

    def predict_url(self, project_id: int | None = None) -> str:
        return f"{self.platform.gateway_url}/api/v1/projects/{project_id or self.project_id}/predict"


def sign_in(platform: BenchPlatform, run_dir: Path) -> tuple[SalesMLClient, str, int]:
    client = SalesMLClient(platform.gateway_url, CredentialStore(run_dir / "credentials"))
    username = f"bench_{uuid.uuid4().hex[:10]}"
    client.register(username, PASSWORD)
    credentials = client.login(username, PASSWORD)
    return client, credentials.access_token, int(client.me()["id"])


def create_project_with(session: Session, name: str, target: str, data: pd.DataFrame) -> int:
    project = session.client.create_project(f"{name} {uuid.uuid4().hex[:6]}", target=target)
    path = session.run_dir / f"{name.replace(' ', '_')}.parquet"
    data.to_parquet(path, index=False)
    session.client.upload_dataset(project["id"], path)
    return int(project["id"])


def train_through_platform(session: Session, project_id: int, params: dict[str, Any], timeout_s: float) -> dict:
    """POST /train, then poll the run until it ends; the run with ``wall_seconds`` (until this client saw it end)
    and ``platform_seconds`` (from its creation to its end, by the platform's own clock) added."""
    started = time.perf_counter()
    run = session.client.train(project_id, params)
    return wait_for_run(session, project_id, run, started, timeout_s)


def wait_for_run(session: Session, project_id: int, run: dict, started: float, timeout_s: float) -> dict:
    deadline = started + timeout_s
    while run["status"] not in TERMINAL_RUN_STATES:
        if time.perf_counter() > deadline:
            raise RuntimeError(f"run {run['id']} still {run['status']} after {timeout_s:.0f} s")
        time.sleep(RUN_POLL_SECONDS)
        run = session.client.get_run(project_id, run["id"])
    run["wall_seconds"] = time.perf_counter() - started
    if run.get("finished_at"):
        ended = datetime.fromisoformat(run["finished_at"]) - datetime.fromisoformat(run["created_at"])
        run["platform_seconds"] = ended.total_seconds()
    if run["status"] != "succeeded":
        worker_log = session.platform.log_tail("worker", 15)
        raise RuntimeError(f"run {run['id']} {run['status']}: {run.get('error')}\nworker log:\n{worker_log}")
    return run


@dataclass(frozen=True)
class ServingModel:
    """A project's active model as the predictor loads it: the verified pipeline, its feature schema and target."""

    pipeline: Any
    features: list[dict[str, Any]]
    target: str
    algorithm: str

    def contract(self) -> InputContract:
        return InputContract(self.features, self.target, max_string_length=1000)


def serving_model(database_url: str, project_id: int, signing_key: str) -> ServingModel:
    """The project's active model, read from the platform's database and verified as the predictor does."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            row = connection.execute(
                text(
                    "SELECT artifact, artifact_hmac, sha256, version, library_versions, features, target, algorithm "
                    "FROM model_versions WHERE project_id = :project_id AND active"
                ),
                {"project_id": project_id},
            ).one()
    finally:
        engine.dispose()
    record = ArtifactRecord(project_id, row.version, row.sha256, row.artifact_hmac, row.library_versions)
    pipeline = load_pipeline(bytes(row.artifact), record, signing_key)
    return ServingModel(pipeline, row.features, row.target, row.algorithm)


def parquet_body(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), buffer)
    return buffer.getvalue()


def parquet_answer_via_gateway(session: Session, http: requests.Session, body: bytes, project_id: int) -> bytes:
    """The scored parquet file the gateway answers for a parquet body."""
    headers = {**session.auth, "Content-Type": PARQUET, "Accept": PARQUET}
    answer = http.post(session.predict_url(project_id), data=body, headers=headers, timeout=600)
    if answer.status_code != 200:
        raise RuntimeError(f"parquet predict answered {answer.status_code}: {answer.text[:300]}")
    return answer.content


def predict_parquet_via_gateway(session: Session, http: requests.Session, body: bytes, project_id: int) -> pd.DataFrame:
    answer = parquet_answer_via_gateway(session, http, body, project_id)
    return pq.read_table(io.BytesIO(answer), use_threads=False).to_pandas()
