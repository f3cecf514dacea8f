"""Helpers of the security suite: accounts on the platform (``tests/platform_harness.py``), a tiny sales table,
training through the gateway, the bucket's keys, the JSON error shape and the memory of a service's processes."""

from __future__ import annotations

import pickle
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import psutil
import requests
from minio import Minio

from harness.data import parquet_bytes
from harness.processes import Platform
from shared.media_types import PARQUET
from tests.platform_harness import ApiClient, unique_username

TINY_TRAINING = {"include": ["lr"], "folds": 2}
TRAINING_TIMEOUT_S = 300
# A project id no one has (the routing layer accepts ids up to 2**31 - 1).
MISSING_PROJECT_ID = 2_147_000_000
FINISHED = ("succeeded", "failed", "cancelled")


FEATURE_ROW = {"price": 4.5, "store": "north", "promo": 1}


def assert_error_shape(answer: requests.Response, code: int) -> dict[str, Any]:
    """The one JSON error shape of API.md, with this status (never HTML, never a trace)."""
    assert answer.status_code == code, (answer.status_code, answer.text[:500])
    assert answer.headers.get("Content-Type", "").startswith("application/json"), answer.headers
    body = answer.json()
    assert body["code"] == code
    assert set(body) <= {"code", "status", "message", "errors"}, body
    assert isinstance(body["message"], str) and body["message"]
    assert "Traceback" not in answer.text
    return body


@dataclass
class Account:
    username: str
    user_id: int
    headers: dict[str, str]


def new_account(api: ApiClient, prefix: str = "user") -> Account:
    username = unique_username(prefix)
    headers = api.register_and_login(username)
    me = api.get("/api/v1/auth/me", headers=headers)
    assert me.status_code == 200, me.text
    return Account(username, me.json()["id"], headers)


def create_project_with_data(api: ApiClient, account: Account, frame: pd.DataFrame, name: str = "shop") -> dict:
    """A project with ``frame`` as its first dataset (multipart create); returns the project."""
    created = api.post(
        "/api/v1/projects",
        data={"name": name, "target": "sales"},
        files={"data_file": ("sales.parquet", parquet_bytes(frame), PARQUET)},
        headers=account.headers,
    )
    assert created.status_code == 201, created.text
    project = created.json()
    assert project["latest_dataset"], project
    return project


def start_training(api: ApiClient, account: Account, project_id: int, body: dict | None = None) -> dict:
    started = api.post(f"/api/v1/projects/{project_id}/train", json=body or TINY_TRAINING, headers=account.headers)
    assert started.status_code == 202, started.text
    return started.json()


def wait_for_run(
    api: ApiClient, account: Account, project_id: int, run_id: int, timeout_s: float = TRAINING_TIMEOUT_S
) -> dict:
    deadline = time.monotonic() + timeout_s
    while True:
        run = api.get(f"/api/v1/projects/{project_id}/training-runs/{run_id}", headers=account.headers).json()
        if run["status"] in FINISHED:
            return run
        assert time.monotonic() < deadline, f"run {run_id} still {run['status']} after {timeout_s}s: {run}"
        time.sleep(0.5)


@dataclass
class TrainedProject:
    """User A's objects: a project with one dataset, one finished run and its model (version 1, active)."""

    owner: Account
    project_id: int
    dataset_id: str
    run_id: int
    model_version: int


def object_store_client(platform: Platform) -> tuple[Minio, str]:
    env = platform.env
    client = Minio(
        env["S3_ENDPOINT"],
        access_key=env["S3_ACCESS_KEY"],
        secret_key=env["S3_SECRET_KEY"],
        secure=False,
        region=env["S3_REGION"],
    )
    return client, env["OBJECT_STORE_URL"].removeprefix("s3://")


def bucket_keys(platform: Platform, prefix: str = "") -> list[str]:
    client, bucket = object_store_client(platform)
    return sorted(item.object_name for item in client.list_objects(bucket, prefix=prefix, recursive=True))


def service_processes(platform: Platform, name: str) -> list[psutil.Process]:
    """The gunicorn master of ``name`` and its workers."""
    master = psutil.Process(platform.processes[name].pid)
    return [master, *master.children(recursive=True)]


def peak_rss_kb(pid: int) -> int:
    """``VmHWM`` from /proc/<pid>/status: the most memory the process ever held resident."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise AssertionError(f"no VmHWM for {pid}")


class _OpensAFileWhenUnpickled:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def booby_trapped_pickle(marker: Path) -> bytes:
    """A pickle that creates ``marker`` if anything ever unpickles it."""
    return pickle.dumps(_OpensAFileWhenUnpickled(str(marker)))
