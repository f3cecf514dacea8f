"""``make stack`` as an operator runs it: the production shape on this machine (a PostgreSQL database of its own,
made by it; SeaweedFS as S3; gunicorn as in the containers; two training workers; production mode with secrets it
made), here on free ports, a database name not yet taken and a temporary folder, through register → upload → train →
predict at the gateway; Ctrl-C then stops every process it started."""

from __future__ import annotations

import stat

import pytest
import requests

from harness.data import parquet_bytes, sales_frame
from harness.databases import unused_database
from harness.make_stack import TRAINING_WORKERS, make_stack
from harness.seaweedfs import weed_binary
from tests.conftest import POSTGRES_SERVER
from tests.helpers.journey import register_upload_train_predict
from tests.helpers.scrape import Scrape

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
        question = {"price": 5, "store": "north", "promo": 1}
        shops = parquet_bytes(sales_frame(rows=200, seed=5))
        journey = register_upload_train_predict(stack.url, "operator", PASSWORD, shops, question)
        assert journey.answer["prediction"] == pytest.approx(50 - 3 * 5 + 10 + 5, abs=2)

        assert f"projects/{journey.project_id}/datasets/{journey.dataset_id}.parquet" in stack.bucket_keys()
        assert stat.S_IMODE(stack.secrets_path().stat().st_mode) == 0o600
        assert "mode: production" in stack.log()
        assert len(stack.training_workers()) == TRAINING_WORKERS
        # Each worker serves its own metrics; one of them counts the run it trained.
        scrapes = [Scrape(requests.get(url, timeout=10).text) for url in stack.worker_metrics_urls()]
        assert sorted(scrape("trainer_training_runs_total", status="succeeded") for scrape in scrapes) == [0.0, 1.0]
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
