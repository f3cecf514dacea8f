"""``make stack`` as an operator runs it: the production shape on this machine (a PostgreSQL database of its own,
made by it; SeaweedFS as S3; gunicorn as in the containers; two training workers; production mode with secrets it
made), here on free ports, a database name not yet taken and a temporary folder, through register → upload → train →
predict at the gateway; Ctrl-C then stops every process it started."""

from __future__ import annotations

import stat
import time

import pytest
import requests

from harness.data import parquet_bytes, sales_frame
from harness.databases import unused_database
from harness.make_stack import make_stack
from harness.seaweedfs import weed_binary
from shared.media_types import PARQUET
from tests.conftest import POSTGRES_SERVER

pytestmark = pytest.mark.e2e

PASSWORD = "operator-password"
# docker-compose.yml's GUNICORN_WORKERS default, which docker/start.sh applies.
GUNICORN_WORKERS = 2


def test_make_stack_serves_the_whole_path_on_postgresql_and_seaweedfs(tmp_path):
    try:
        weed_binary()
    except RuntimeError as missing:
        pytest.skip(str(missing))
    with unused_database(POSTGRES_SERVER, "salesml_stack") as database_url, make_stack(tmp_path, database_url) as stack:
        api = requests.Session()
        base = f"{stack.url}/api/v1"
        assert api.post(f"{base}/auth/register", json={"username": "operator", "password": PASSWORD}).status_code == 201
        tokens = api.post(f"{base}/auth/login", json={"username": "operator", "password": PASSWORD}).json()
        api.headers["Authorization"] = f"Bearer {tokens['access_token']}"
        project = api.post(f"{base}/projects", json={"name": "Shops", "target": "sales"}).json()
        uploaded = api.post(
            f"{base}/projects/{project['id']}/datasets",
            data=parquet_bytes(sales_frame(rows=200, seed=5)),
            headers={"Content-Type": PARQUET},
        )
        assert uploaded.status_code == 201, uploaded.text
        run = api.post(f"{base}/projects/{project['id']}/train", json={"include": ["lr"], "folds": 2}).json()
        deadline = time.monotonic() + 180
        while run["status"] in ("queued", "running"):
            assert time.monotonic() < deadline, run
            time.sleep(0.5)
            run = api.get(f"{base}/projects/{project['id']}/training-runs/{run['id']}").json()
        assert run["status"] == "succeeded", run["error"]
        answer = api.post(f"{base}/projects/{project['id']}/predict", json={"price": 5, "store": "north", "promo": 1})
        assert answer.status_code == 200, answer.text
        assert answer.json()["prediction"] == pytest.approx(50 - 3 * 5 + 10 + 5, abs=2)

        assert f"projects/{project['id']}/datasets/{uploaded.json()['id']}.parquet" in stack.bucket_keys()
        assert stat.S_IMODE(stack.secrets_path().stat().st_mode) == 0o600
        assert "mode: production" in stack.log()
        assert len(stack.training_workers()) == 2
        masters = stack.gunicorn_masters()
        assert {factory: len(master.children()) for factory, master in masters.items()} == {
            f"{app}:create_app()": GUNICORN_WORKERS
            for app in ("gateway", "services.projects", "services.trainer", "services.predictor")
        }
        # Each service holds only the secrets it reads, as in docker-compose.yml.
        gateway, predictor = (
            masters["gateway:create_app()"].environ(),
            masters["services.predictor:create_app()"].environ(),
        )
        assert "JWT_SECRET_KEY" in gateway and "MODEL_SIGNING_KEY" not in gateway
        assert "MODEL_SIGNING_KEY" in predictor and "JWT_SECRET_KEY" not in predictor
        assert "SALESML_DEV_MODE" not in gateway

        still_alive = stack.interrupt()  # Ctrl-C in the terminal
    assert still_alive == [], f"make stack left {still_alive} running:\n{stack.log()[-2000:]}"
