"""The training worker with real PyCaret: trainings end to end, and what happens when things go wrong.

Workers run either in this process (``TrainingWorker.run_once``; the training itself is still a spawned process) or
as real ``python -m services.trainer.worker`` processes that the tests kill.
"""

from __future__ import annotations

import signal
import time
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import psutil
import pytest
from sqlalchemy import text, update

from services.predictor.input_contract import InputContract
from services.trainer import run_leases
from services.trainer.queue_signal import CHANNEL
from services.trainer.training_jobs import TrainingResult
from services.trainer.worker import TrainingWorker
from shared.clock import utcnow
from shared.db import db
from shared.training_records import ModelVersion, TrainingRun, project_training_states
from tests.conftest import internal_token_headers
from tests.helpers.datasets import real_dataset
from tests.trainer_fixtures import (
    advertising_frame,
    load_run,
    sales_frame,
    start_worker_process,
    stored_pipeline,
    wait_for_run,
)

SLOW_CANDIDATES = ["lr", "ridge", "dt", "rf", "et", "gbr", "ada", "knn", "br", "huber"]


def start_run(app, project, **body) -> int:
    response = app.test_client().post(
        f"/api/v1/projects/{project.project_id}/train",
        json=body,
        headers=internal_token_headers(app.config, "trainer", project.user_id),
    )
    assert response.status_code == 202, response.json
    return response.json["id"]


def api_get(app, project, path: str):
    return app.test_client().get(
        f"/api/v1/projects/{project.project_id}/{path}",
        headers=internal_token_headers(app.config, "trainer", project.user_id),
    )


def scores(leaderboard: list[dict]) -> list[dict]:
    return [{k: v for k, v in row.items() if k != "fit_seconds"} for row in leaderboard]


@pytest.mark.slow
def test_a_real_training_makes_the_first_active_model(trainer_app, served_projects_app, make_project):
    frame = sales_frame()
    frame["receipt"] = [f"R-{i:05d}" for i in range(len(frame))]  # an ID: left out of the model by default
    project = make_project(frame)
    run_id = start_run(trainer_app, project, include=["lr", "dt"], folds=2)
    assert TrainingWorker(trainer_app, "test-worker").run_once() is True

    run = api_get(trainer_app, project, f"training-runs/{run_id}").json
    assert (run["status"], run["stage"], run["progress"], run["attempt"]) == ("succeeded", "succeeded", 1.0, 1)
    assert run["error"] is None and run["model_version"] == 1
    assert {row["model"] for row in run["leaderboard"]} == {"lr", "dt"}
    assert run["leaderboard"][0]["R2"] >= run["leaderboard"][1]["R2"]
    model = api_get(trainer_app, project, "models/1").json
    assert model["active"] is True and model["algorithm"] == run["leaderboard"][0]["model"]
    assert model["training_run_id"] == run_id and model["target"] == "sales"
    assert [f["name"] for f in model["features"]] == ["day", "price", "store"]
    assert model["metrics"]["cv"]["R2"] == run["leaderboard"][0]["R2"]
    assert set(model["metrics"]["holdout"]) == {"MAE", "MSE", "RMSE", "R2", "RMSLE", "MAPE", "WAPE", "bias"}
    assert run["activation"]["decision"] == "activated" and "no serving model" in run["activation"]["reason"]
    with trainer_app.app_context():
        assert project_training_states(project.user_id, [project.project_id])[project.project_id].status == "ready"
    pipeline = stored_pipeline(trainer_app)
    predictions = pipeline.predict(frame.drop(columns=["sales", "receipt"]))
    assert np.corrcoef(predictions, frame["sales"])[0, 1] > 0.9
    project_view = served_projects_app.test_client().get(
        f"/api/v1/projects/{project.project_id}",
        headers=internal_token_headers(served_projects_app.config, "projects", project.user_id),
    )
    assert project_view.json["status"] == "ready"


@pytest.mark.slow
def test_a_worse_challenger_stays_inactive_unless_the_request_says_always(trainer_app, make_project):
    """Champion and challenger: both scored on the new run's holdout with its metric (R2); a mean-only model does not
    replace a good linear one by default, and serves when the request says activate: always."""
    project = make_project(sales_frame())
    worker = TrainingWorker(trainer_app, "test-worker")
    start_run(trainer_app, project, include=["lr"], folds=2)
    worker.run_once()
    worse = start_run(trainer_app, project, include=["dummy"], folds=2)
    worker.run_once()
    run = api_get(trainer_app, project, f"training-runs/{worse}").json
    assert (run["status"], run["model_version"]) == ("succeeded", 2)
    activation = run["activation"]
    assert activation["decision"] == "not_activated" and activation["champion_version"] == 1
    assert "does not beat the serving model (version 1)" in activation["reason"]
    assert activation["champion_score"] > 0.9 > activation["challenger_score"]
    assert [(m["version"], m["active"]) for m in api_get(trainer_app, project, "models").json] == [
        (2, False),
        (1, True),
    ]

    promoted = start_run(trainer_app, project, include=["dummy"], folds=2, activate="always")
    worker.run_once()
    run = api_get(trainer_app, project, f"training-runs/{promoted}").json
    assert run["activation"]["decision"] == "activated" and "activate: always" in run["activation"]["reason"]
    assert [m["active"] for m in api_get(trainer_app, project, "models").json] == [True, False, False]


@pytest.mark.slow
def test_a_model_records_permutation_importance_holdout_pairs_and_its_training_profile(trainer_app, make_project):
    project = make_project(sales_frame(rows=300))
    start_run(trainer_app, project, include=["lr"], folds=2)
    TrainingWorker(trainer_app, "test-worker").run_once()
    model = api_get(trainer_app, project, "models/1").json
    assert model["task"] == "regression"
    importance = {entry["feature"]: entry["importance"] for entry in model["permutation_importance"]}
    # sales = 50 − 3·price + …, price uniform on [1, 10]: shuffling it grows the MAE by about 3 · E|Δprice| = 9.
    assert max(importance, key=importance.get) == "price" and importance["price"] == pytest.approx(9, rel=0.25)
    assert {"WAPE", "bias"} <= set(model["metrics"]["holdout"])
    holdout = api_get(trainer_app, project, "models/1/holdout").json
    assert holdout["target"] == "sales" and 50 <= len(holdout["rows"]) <= 500
    pairs = np.array([[row["actual"], row["predicted"]] for row in holdout["rows"]])
    assert np.corrcoef(pairs.T)[0, 1] > 0.95
    with trainer_app.app_context():
        profile = db.session.query(ModelVersion).one().training_profile
    assert set(profile["features"]) == {"price", "store"} and len(profile["background"]) == 100


@pytest.mark.slow
def test_an_integer_column_named_in_categorical_features_is_trained_as_categories(trainer_app, make_project):
    rng = np.random.default_rng(5)
    stores = 30  # more values than PyCaret one-hot encodes: target-encoded, which needs the column as text
    store = rng.integers(1, stores + 1, 900)
    store_effect = rng.permutation(stores) * 5.0  # unrelated to the order of the store numbers
    price = rng.uniform(1, 10, len(store))
    sales = 100 - 3 * price + store_effect[store - 1] + rng.normal(0, 1, len(store))
    frame = pd.DataFrame({"store": store, "price": price, "sales": sales})
    project = make_project(frame)
    run_id = start_run(trainer_app, project, include=["lr"], folds=2, categorical_features=["store"])
    assert TrainingWorker(trainer_app, "test-worker").run_once() is True

    run = api_get(trainer_app, project, f"training-runs/{run_id}").json
    assert run["status"] == "succeeded", run["error"]
    assert run["params"]["made_categorical"] == [{"column": "store", "reason": "named in categorical_features"}]
    features = api_get(trainer_app, project, "models/1").json["features"]
    assert features[0] == {
        "name": "store",
        "dtype": "int64",
        "min": 1.0,
        "max": 30.0,
        "categories": sorted(str(number) for number in range(1, stores + 1)),
    }
    pipeline = stored_pipeline(trainer_app)
    # A straight line through the store numbers explains little of the sales; one value per store explains them.
    predictions = pipeline.predict(frame.drop(columns="sales"))
    assert 1 - np.mean((predictions - sales) ** 2) / np.var(sales) > 0.9
    prepared = InputContract(features, "sales", 100).prepare_records(
        [{"store": 3, "price": 5}, {"store": 31, "price": 5}]
    )
    assert "Column 'store': values never seen in training: 31." in prepared.warnings
    assert np.isfinite(pipeline.predict(prepared.frame)).all()


@pytest.mark.slow
def test_an_idle_worker_keeps_the_next_runs_training_process_ready(trainer_app, make_project):
    """The process (and its PyCaret import) is started before a run needs it: while the queue is empty, and for the
    next run as soon as one is claimed; one process still trains one run."""
    worker = TrainingWorker(trainer_app, "ready-worker")
    assert worker.run_once() is False
    spare = worker.spare_process
    assert spare is not None and spare.process.is_alive()
    run_id = start_run(trainer_app, make_project(sales_frame()), include=["lr"], folds=2)
    assert worker.run_once() is True
    assert load_run(trainer_app, run_id).status == "succeeded"
    assert not spare.process.is_alive() and not Path(spare.work_dir).exists()
    replacement = worker.spare_process
    assert replacement is not None and replacement.process.is_alive()
    assert replacement.process.pid != spare.process.pid
    assert worker.run_once() is False
    assert worker.spare_process is replacement
    worker.discard_spare_process()
    assert not replacement.process.is_alive() and not Path(replacement.work_dir).exists()


@pytest.mark.slow
def test_advertising_data_trains_to_its_reference_score(trainer_app, make_project):
    project = make_project(pd.read_csv(real_dataset("advertising_islr.csv")))
    run_id = start_run(trainer_app, project, include=["gbr", "lr"], folds=5)
    TrainingWorker(trainer_app, "test-worker").run_once()
    run = api_get(trainer_app, project, f"training-runs/{run_id}").json
    assert run["status"] == "succeeded", run["error"]
    best = run["leaderboard"][0]
    assert best["model"] == "gbr"
    assert best["R2"] >= 0.9  # reference: gradient boosting R² 0.962 in 5-fold CV


@pytest.mark.slow
def test_a_worker_killed_mid_training_loses_its_run_to_another_worker(
    trainer_config, make_trainer_app, make_project, tmp_path
):
    config = {**trainer_config, "TRAINING_LEASE_SECONDS": 3}
    app = make_trainer_app(TRAINING_LEASE_SECONDS=3)
    project = make_project(advertising_frame())
    run_id = start_run(app, project, include=SLOW_CANDIDATES, folds=3)
    worker = start_worker_process(config, tmp_path / "worker-1.log", "doomed-worker")
    try:
        wait_for_run(app, run_id, lambda r: r.stage == "comparing models" and r.progress > 0.1, timeout=120)
        training_processes = psutil.Process(worker.pid).children(recursive=True)
        assert training_processes, "the worker trains in a child process"
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
    finally:
        worker.kill()
    _, still_alive = psutil.wait_procs(training_processes, timeout=15)
    assert still_alive == [], "the training process outlived its worker"
    abandoned = load_run(app, run_id)
    assert (abandoned.status, abandoned.attempt, abandoned.worker_id) == ("running", 1, "doomed-worker")

    wait_for_run(app, run_id, lambda r: r.lease_expires_at < utcnow(), timeout=30)
    assert TrainingWorker(app, "rescuer").run_once() is True
    rescued = load_run(app, run_id)
    assert (rescued.status, rescued.attempt, rescued.worker_id) == ("succeeded", 2, "rescuer")

    dead_attempt = run_leases.RunFence(run_id, 1)
    with app.app_context():
        assert run_leases.finish_run(dead_attempt, "failed", "late news from a dead worker") is False
        assert run_leases.renew_lease(dead_attempt, 60, "comparing models", 0.5) is None
        late_model = TrainingResult(b"late", "lr", [], {"cv": {}, "holdout": {}}, [], [])
        assert run_leases.record_success(dead_attempt, late_model, "sales") is None
        assert run_leases.requeue_run(dead_attempt) is False
    after = load_run(app, run_id)
    assert (after.status, after.progress, after.error, after.model_version) == ("succeeded", 1.0, None, 1)
    with app.app_context():
        assert db.session.query(ModelVersion).count() == 1


@pytest.mark.slow
def test_a_busy_worker_rescues_a_run_whose_worker_died(trainer_config, make_trainer_app, make_project, tmp_path):
    """Every worker busy on a long run: a dead worker's run is still re-queued soon after its lease expired."""
    app = make_trainer_app(TRAINING_LEASE_SECONDS=2)
    project = make_project(advertising_frame())
    long_run = start_run(app, project, include=SLOW_CANDIDATES, folds=10)
    worker = start_worker_process({**trainer_config, "TRAINING_LEASE_SECONDS": 2}, tmp_path / "busy.log", "busy")
    try:
        wait_for_run(app, long_run, lambda r: r.status == "running" and r.worker_id == "busy", timeout=60)
        orphan = start_run(app, make_project(sales_frame()))
        with app.app_context():
            claimed = run_leases.claim_next_run("dead-worker", lease_seconds=1)
        assert claimed is not None and claimed.fence == run_leases.RunFence(orphan, 1)
        rescued = wait_for_run(app, orphan, lambda r: r.status == "queued", timeout=30)
        busy = load_run(app, long_run)
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(60)
    assert (rescued.attempt, rescued.worker_id, rescued.lease_expires_at) == (1, None, None)
    assert (busy.status, busy.worker_id) == ("running", "busy")


def listening_workers(app) -> int:
    """Database sessions listening for queued runs (PostgreSQL)."""
    with app.app_context():
        return db.session.scalar(
            text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND query = :listen"),
            {"listen": f"LISTEN {CHANNEL}"},
        )


@pytest.mark.slow
def test_an_idle_worker_wakes_when_a_run_is_queued_not_when_its_poll_comes_round(
    trainer_config, make_trainer_app, make_project, tmp_path
):
    app = make_trainer_app()
    project = make_project(sales_frame())
    worker = start_worker_process({**trainer_config, "WORKER_POLL_SECONDS": 600}, tmp_path / "idle.log", "idle")
    try:
        deadline = time.monotonic() + 60
        while not listening_workers(app):
            assert time.monotonic() < deadline and worker.poll() is None, "the worker never listened for runs"
            time.sleep(0.2)
        time.sleep(2)  # it has found the queue empty and waits on its 600 s poll
        run_id = start_run(app, project, include=["lr"], folds=2)
        claimed = wait_for_run(app, run_id, lambda r: r.status != "queued", timeout=120)
        assert claimed.worker_id == "idle"
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(60)


def test_a_run_whose_workers_keep_vanishing_fails_after_the_last_attempt(make_trainer_app, make_project):
    app = make_trainer_app(TRAINING_MAX_ATTEMPTS=2)
    project = make_project(sales_frame())
    run_id = start_run(app, project)
    with app.app_context():
        for attempt in (1, 2):
            claimed = run_leases.claim_next_run(f"vanishing-{attempt}", lease_seconds=60)
            assert claimed is not None and claimed.fence == run_leases.RunFence(run_id, attempt)
            db.session.execute(
                update(TrainingRun).values(lease_expires_at=utcnow() - timedelta(seconds=1))
            )  # the worker stopped renewing
            db.session.commit()
            assert run_leases.sweep_expired_leases(max_attempts=2) == 1
            assert db.session.get(TrainingRun, run_id).status == ("queued" if attempt == 1 else "failed")
            db.session.expire_all()
        failed = db.session.get(TrainingRun, run_id)
        assert failed.error == {
            "message": "the training was interrupted 2 times (its worker stopped); try again, with fewer models or "
            "a smaller dataset if it keeps happening"
        }
        assert run_leases.claim_next_run("anyone", lease_seconds=60) is None


@pytest.mark.slow
def test_a_run_over_its_time_budget_is_killed_and_failed(make_trainer_app, make_project):
    app = make_trainer_app(TRAINING_GRACE_S=1)
    project = make_project(sales_frame())
    run_id = start_run(app, project, include=SLOW_CANDIDATES, folds=3)
    with app.app_context():
        run = db.session.get(TrainingRun, run_id)
        run.params = {**run.params, "time_budget_s": 1}  # below what the API allows, to keep the test short
        db.session.commit()
    TrainingWorker(app, "test-worker").run_once()
    failed = load_run(app, run_id)
    assert failed.status == "failed"
    assert failed.error["message"].startswith("the run exceeded its 1 s budget")
    assert failed.finished_at is not None and failed.lease_expires_at is None


@pytest.mark.slow
def test_cancel_a_running_run_and_stop_a_worker_gracefully(trainer_config, make_trainer_app, make_project, tmp_path):
    app = make_trainer_app()
    project = make_project(advertising_frame())
    first = start_run(app, project, include=SLOW_CANDIDATES, folds=3)
    worker = start_worker_process(trainer_config, tmp_path / "worker.log", "graceful-worker")
    try:
        wait_for_run(app, first, lambda r: r.status == "running" and r.stage != "starting", timeout=120)
        cancel = app.test_client().post(
            f"/api/v1/projects/{project.project_id}/training-runs/{first}/cancel",
            headers=internal_token_headers(app.config, "trainer", project.user_id),
        )
        assert cancel.status_code == 202 and cancel.json["status"] == "running"
        cancelled = wait_for_run(app, first, lambda r: r.status != "running", timeout=60)
        assert cancelled.status == "cancelled" and cancelled.model_version is None

        second = start_run(app, project, include=SLOW_CANDIDATES, folds=3)
        wait_for_run(app, second, lambda r: r.status == "running", timeout=60)
        training_processes = psutil.Process(worker.pid).children(recursive=True)
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(60) == 0
    finally:
        worker.kill()
    requeued = load_run(app, second)
    assert (requeued.status, requeued.worker_id, requeued.lease_expires_at) == ("queued", None, None)
    _, still_alive = psutil.wait_procs(training_processes, timeout=15)
    assert still_alive == []


@pytest.mark.slow
def test_two_workers_at_once_train_like_one_after_the_other(trainer_config, make_trainer_app, make_project, tmp_path):
    app = make_trainer_app()
    projects = [make_project(advertising_frame()), make_project(sales_frame(seed=5))]
    options = {"include": ["lr", "dt", "ridge"], "folds": 3, "seed": 11}
    together = [start_run(app, project, **options) for project in projects]
    workers = [start_worker_process(trainer_config, tmp_path / f"w{i}.log", f"parallel-{i}") for i in (1, 2)]
    try:
        finished = [
            wait_for_run(app, run_id, lambda r: r.status != "running" and r.status != "queued", 180)
            for run_id in together
        ]
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        for worker in workers:
            worker.wait(60)
    assert [run.status for run in finished] == ["succeeded", "succeeded"]
    assert len({run.worker_id for run in finished}) == 2

    one_after_the_other = []
    for project in projects:
        run_id = start_run(app, project, **options)
        TrainingWorker(app, "alone").run_once()
        one_after_the_other.append(load_run(app, run_id))
    for parallel_run, sequential_run in zip(finished, one_after_the_other, strict=True):
        assert sequential_run.status == "succeeded"
        assert scores(parallel_run.leaderboard) == scores(sequential_run.leaderboard)


@pytest.mark.slow
def test_candidates_spread_over_a_dask_cluster(make_trainer_app, make_project, tmp_path, monkeypatch):
    from dask.distributed import LocalCluster

    monkeypatch.chdir(tmp_path)  # the Dask workers' PyCaret writes its log here, not into the repository
    monkeypatch.setenv("PYCARET_CUSTOM_LOGGING_PATH", str(tmp_path / "dask-pycaret.log"))
    project = make_project(sales_frame())
    options = {"include": ["lr", "dt", "ridge"], "folds": 2}
    local_app = make_trainer_app()
    local_run = start_run(local_app, project, **options)
    TrainingWorker(local_app, "local").run_once()
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        app = make_trainer_app(DASK_SCHEDULER_ADDRESS=cluster.scheduler_address)
        run_id = start_run(app, project, **options)
        TrainingWorker(app, "dask-worker").run_once()
    run = load_run(app, run_id)
    assert run.status == "succeeded", run.error
    assert {row["model"] for row in run.leaderboard} == {"lr", "dt", "ridge"}
    assert scores(run.leaderboard) == scores(load_run(app, local_run).leaderboard)
    assert run.model_version == 2
