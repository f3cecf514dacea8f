"""The run state machine (``services.trainer.run_leases``) on both databases: PostgreSQL (the stack) and SQLite (the
embedded default of ``make run``). Claims, leases, fenced writes and the sweep, without training anything."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import update

from services.trainer import create_app
from services.trainer import run_leases as leases
from services.trainer.queue_signal import QueueSignal, announce_queued_run
from services.trainer.training_jobs import TrainingResult
from shared.clock import as_utc, utcnow
from shared.db import db
from shared.migrate import upgrade
from shared.training_records import ModelVersion, TrainingRun
from tests.trainer_fixtures import dispose_engines

RESULT = TrainingResult(b"pickled pipeline", "lr", [{"model": "lr"}], {"cv": {}, "holdout": {}}, [], [])


@pytest.fixture(params=["postgresql", "sqlite"])
def trainer(request: pytest.FixtureRequest, app_config: dict[str, Any], tmp_path: Path) -> Iterator[Flask]:
    """A trainer app on an empty, migrated database of each kind."""
    config = dict(app_config)
    if request.param == "sqlite":
        config["DATABASE_URL"] = f"sqlite:///{tmp_path / 'salesml.db'}"
        config.pop("SQLALCHEMY_ENGINE_OPTIONS")
        upgrade(config["DATABASE_URL"])
    app = create_app(config)
    yield app
    dispose_engines(app)


def queue(app: Flask, count: int = 1, project_id: int = 1) -> list[int]:
    with app.app_context():
        runs = [
            TrainingRun(project_id=project_id, owner_id=1, dataset_id="d", status="queued", params={"target": "sales"})
            for _ in range(count)
        ]
        db.session.add_all(runs)
        db.session.commit()
        return [run.id for run in runs]


def run_row(app: Flask, run_id: int) -> TrainingRun:
    with app.app_context():
        run = db.session.get(TrainingRun, run_id)
        db.session.expunge(run)
        return run


def expire_lease(app: Flask, run_id: int) -> None:
    with app.app_context():
        db.session.execute(
            update(TrainingRun).where(TrainingRun.id == run_id).values(lease_expires_at=utcnow() - timedelta(seconds=1))
        )
        db.session.commit()


def test_the_oldest_queued_run_is_claimed_once(trainer):
    first, second = queue(trainer, 2)
    with trainer.app_context():
        claimed = leases.claim_next_run("worker-a", lease_seconds=60)
        assert claimed is not None and claimed.fence == leases.RunFence(first, 1)
        assert claimed.params == {"target": "sales"} and (claimed.project_id, claimed.owner_id) == (1, 1)
        assert leases.claim_next_run("worker-b", lease_seconds=60).fence == leases.RunFence(second, 1)
        assert leases.claim_next_run("worker-c", lease_seconds=60) is None
    row = run_row(trainer, first)
    assert (row.status, row.stage, row.attempt, row.worker_id) == ("running", "starting", 1, "worker-a")
    assert row.lease_expires_at is not None and row.started_at is not None


def test_concurrent_claimers_each_get_a_different_run(trainer):
    """Eight threads claim four runs at once: each run goes to exactly one of them."""
    run_ids = queue(trainer, 4)
    claimed: list[int] = []
    start = threading.Barrier(8)

    def claim(worker: int) -> None:
        with trainer.app_context():
            start.wait()
            run = leases.claim_next_run(f"worker-{worker}", lease_seconds=60)
            if run is not None:
                claimed.append(run.fence.run_id)
            db.session.remove()

    threads = [threading.Thread(target=claim, args=(worker,)) for worker in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(claimed) == run_ids


def test_a_heartbeat_renews_the_lease_and_reads_a_cancel_request(trainer):
    (run_id,) = queue(trainer)
    with trainer.app_context():
        fence = leases.claim_next_run("worker", lease_seconds=1).fence
        lease = leases.renew_lease(fence, 60, "comparing models", 0.4)
        assert lease == leases.Lease(cancel_requested=False)
        db.session.execute(update(TrainingRun).where(TrainingRun.id == run_id).values(cancel_requested=True))
        db.session.commit()
        assert leases.renew_lease(fence, 60) == leases.Lease(cancel_requested=True)
    row = run_row(trainer, run_id)
    assert (row.stage, row.progress) == ("comparing models", 0.4)
    assert as_utc(row.lease_expires_at) > utcnow() + timedelta(seconds=30)


def test_an_expired_lease_is_requeued_then_failed_after_the_last_attempt(trainer):
    (run_id,) = queue(trainer)
    with trainer.app_context():
        for attempt in (1, 2):
            assert leases.claim_next_run(f"vanishing-{attempt}", lease_seconds=60).fence.attempt == attempt
            assert leases.sweep_expired_leases(max_attempts=2) == 0  # the lease still holds
            expire_lease(trainer, run_id)
            assert leases.sweep_expired_leases(max_attempts=2) == 1
            assert leases.sweep_expired_leases(max_attempts=2) == 0  # a second sweeper finds nothing to do
            db.session.expire_all()
            assert db.session.get(TrainingRun, run_id).status == ("queued" if attempt == 1 else "failed")
        assert leases.claim_next_run("anyone", lease_seconds=60) is None
    failed = run_row(trainer, run_id)
    assert failed.error["message"].startswith("the training was interrupted 2 times")
    assert (failed.worker_id, failed.lease_expires_at) == ("vanishing-2", None)


def test_an_expired_lease_with_a_cancel_request_ends_cancelled(trainer):
    (run_id,) = queue(trainer)
    with trainer.app_context():
        leases.claim_next_run("worker", lease_seconds=60)
        db.session.execute(update(TrainingRun).where(TrainingRun.id == run_id).values(cancel_requested=True))
        db.session.commit()
        expire_lease(trainer, run_id)
        assert leases.sweep_expired_leases(max_attempts=3) == 1
    assert run_row(trainer, run_id).status == "cancelled"


def test_every_late_write_of_a_dead_attempt_is_refused(trainer):
    """Attempt 1 lost its lease and attempt 2 holds the run: nothing attempt 1 writes changes anything."""
    (run_id,) = queue(trainer)
    with trainer.app_context():
        dead = leases.claim_next_run("dead", lease_seconds=60).fence
        expire_lease(trainer, run_id)
        leases.sweep_expired_leases(max_attempts=3)
        alive = leases.claim_next_run("alive", lease_seconds=60).fence
        assert alive == leases.RunFence(run_id, 2)
        assert leases.renew_lease(dead, 60, "comparing models", 0.9) is None
        assert leases.finish_run(dead, "failed", "late news") is False
        assert leases.requeue_run(dead) is False
        assert leases.record_success(dead, RESULT, "sales") is None
        assert db.session.query(ModelVersion).count() == 0
    row = run_row(trainer, run_id)
    assert (row.status, row.attempt, row.worker_id, row.progress, row.error) == ("running", 2, "alive", 0.0, None)


def test_success_saves_the_model_and_a_stopping_worker_gives_its_run_back(trainer):
    done, given_back = queue(trainer, 2)
    with trainer.app_context():
        fence = leases.claim_next_run("worker", lease_seconds=60).fence
        assert leases.record_success(fence, RESULT, "sales") == 1
        assert leases.record_success(fence, RESULT, "sales") is None  # the run is no longer running
        stopping = leases.claim_next_run("worker", lease_seconds=60).fence
        assert leases.requeue_run(stopping) is True
        again = leases.claim_next_run("other", lease_seconds=60).fence
        assert again == leases.RunFence(given_back, 2)
        model = db.session.query(ModelVersion).one()
        assert (model.version, model.active, model.training_run_id) == (1, True, done)
    succeeded = run_row(trainer, done)
    assert (succeeded.status, succeeded.progress, succeeded.model_version) == ("succeeded", 1.0, 1)


def test_a_queued_run_wakes_an_idle_worker_at_once_on_postgresql(trainer):
    """The listening worker hears of a committed run instead of waiting out its poll; SQLite only polls."""
    signal = QueueSignal(trainer.config["DATABASE_URL"], threading.Event())
    heard: list[bool] = []
    try:
        if not signal.listens:
            assert signal.wait(0.05) is False
            return
        assert signal.wait(0.05) is False  # nothing queued yet (and the LISTEN is in place from here on)
        waiting = threading.Thread(target=lambda: heard.append(signal.wait(60)))
        waiting.start()
        with trainer.app_context():
            run = TrainingRun(project_id=1, owner_id=1, dataset_id="d", status="queued", params={})
            db.session.add(run)
            announce_queued_run()
            db.session.commit()
        waiting.join(60)
        assert heard == [True], "the worker waited out its 60 s poll instead of being woken"
    finally:
        signal.close()
