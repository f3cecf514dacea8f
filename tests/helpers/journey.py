"""A newcomer's first path through a running platform's gateway: register, sign in, upload, train, predict."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from shared.media_types import PARQUET
from tests.platform_harness import ApiClient

TRAINING_TIMEOUT_S = 180


@dataclass(frozen=True)
class Journey:
    project_id: int
    dataset_id: str
    answer: dict[str, Any]  # the /predict answer's JSON


def register_upload_train_predict(url: str, username: str, password: str, parquet: bytes, question: dict) -> Journey:
    """What a new user gets for ``question`` after uploading ``parquet`` (target ``sales``) to a new project and
    training a quick model (``lr``, 2 folds); every step asserted on the way."""
    api = ApiClient(url)
    api.session.headers.update(api.register_and_login(username, password))
    base = "/api/v1"
    project = api.post(f"{base}/projects", json={"name": "First project", "target": "sales"}).json()
    uploaded = api.post(f"{base}/projects/{project['id']}/datasets", data=parquet, headers={"Content-Type": PARQUET})
    assert uploaded.status_code == 201, uploaded.text
    run = api.post(f"{base}/projects/{project['id']}/train", json={"include": ["lr"], "folds": 2}).json()
    deadline = time.monotonic() + TRAINING_TIMEOUT_S
    while run["status"] in ("queued", "running"):
        assert time.monotonic() < deadline, run
        time.sleep(0.5)
        run = api.get(f"{base}/projects/{project['id']}/training-runs/{run['id']}").json()
    assert run["status"] == "succeeded", run["error"]
    answer = api.post(f"{base}/projects/{project['id']}/predict", json=question)
    assert answer.status_code == 200, answer.text
    return Journey(project["id"], uploaded.json()["id"], answer.json())
