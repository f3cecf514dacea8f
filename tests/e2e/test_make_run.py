"""``make run`` as a newcomer runs it: the whole platform on the embedded default (a SQLite file and a local folder,
every service a local process), here on free ports and a temporary folder, through register → upload → train →
predict at the gateway; Ctrl-C then stops every process it started."""

from __future__ import annotations

import pytest

from demo.supplements import expected_sales, generate_supplements_sales
from harness.data import parquet_bytes
from harness.make_run import make_run
from tests.helpers.journey import register_upload_train_predict

pytestmark = pytest.mark.e2e

PASSWORD = "newcomer-password"


def test_make_run_serves_the_whole_path_on_sqlite_and_a_local_folder(tmp_path):
    with make_run(tmp_path) as running:
        question = {"product": "Creatina", "price": 150, "promotion": 1, "weekday": "Saturday"}
        supplements = parquet_bytes(generate_supplements_sales(rows=400, seed=3))
        journey = register_upload_train_predict(running.url, "newcomer", PASSWORD, supplements, question)
        assert journey.answer["prediction"] == pytest.approx(expected_sales("Creatina", 150, 1, "Saturday"), abs=5)
        assert (running.var_dir / "salesml.db").is_file()
        assert any((running.var_dir / "objects").rglob("*.parquet"))
        assert len(running.processes()) >= 5, "gateway, three services and the worker"
        still_alive = running.interrupt()  # Ctrl-C in the terminal
    assert still_alive == [], f"make run left {still_alive} running:\n{running.log()[-2000:]}"
