"""The training worker: ``python -m services.trainer.worker``. Run several (on one or many machines) to scale out.

Loop: re-queue runs whose worker vanished (expired lease), claim the oldest queued run, train it in a fresh process
while renewing the lease (and sweeping expired leases once per lease period), write the outcome fenced on the claim.
On SIGTERM/SIGINT the worker stops claiming, kills the training in progress and gives its run back to the queue at
once (another worker starts it over), then exits: a stopping worker never leaves a run ``running`` with nobody
working on it, and a deploy never waits for a long run.

With ``WORKER_METRICS_ADDRESS`` set, the worker serves its own Prometheus metrics there (runs finished, their
durations, heartbeats): workers may run on other machines than the trainer service, so each is scraped by itself.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy.exc import SQLAlchemyError

from services.trainer import create_app, model_registry, run_leases
from services.trainer.metrics import HEARTBEAT_FAILED, HEARTBEAT_LOST, HEARTBEAT_RENEWED, WORKER_HEARTBEATS
from services.trainer.model_evaluation import ACTIVATE_IF_BETTER
from services.trainer.queue_signal import QueueSignal
from services.trainer.training_jobs import (
    TASK_REGRESSION,
    Champion,
    Failure,
    Progress,
    TrainingJob,
    TrainingResult,
)
from services.trainer.training_process import TrainingProcess, thread_environment
from shared.db import db
from shared.metrics import start_metrics_server
from shared.model_artifacts import ArtifactRecord, ArtifactRejected, check_artifact
from shared.training_records import RUN_CANCELLED, RUN_FAILED

log = logging.getLogger("salesml.trainer.worker")

STORE_OPTION_KEYS = ("S3_ENDPOINT", "S3_ACCESS_KEY", "S3_SECRET_KEY", "S3_SECURE", "S3_REGION")
SUPERVISE_TICK_SECONDS = 0.5


class TrainingWorker:
    def __init__(self, app: Flask, worker_id: str | None = None) -> None:
        self.app = app
        self.config = app.config
        self.worker_id = worker_id or app.config["WORKER_ID"] or f"{socket.gethostname()}-{os.getpid()}"
        self.stop_requested = threading.Event()
        self.spare_process: TrainingProcess | None = None
        self.queue_signal = QueueSignal(app.config["DATABASE_URL"], self.stop_requested)

    def request_stop(self, *_signal_args: Any) -> None:
        self.stop_requested.set()

    def run_forever(self) -> None:
        log.info("worker %s started", self.worker_id)
        self.queue_signal.listen()  # before the first look at the queue, so no run announced after it is missed
        while not self.stop_requested.is_set():
            try:
                worked = self.run_once()
            except Exception:  # keep serving the queue; a run left running is re-queued when its lease expires
                log.exception("worker loop failed; retrying shortly")
                worked = False
            if not worked:
                self.queue_signal.wait(self.config["WORKER_POLL_SECONDS"])
        self.queue_signal.close()
        self.discard_spare_process()
        log.info("worker %s stopped", self.worker_id)

    def run_once(self) -> bool:
        """Sweep expired leases, then claim and train one run; False when the queue was empty."""
        with self.app.app_context():
            try:
                self._sweep_expired_leases()
                process = self._ready_spare_process()
                claimed = run_leases.claim_next_run(self.worker_id, self.config["TRAINING_LEASE_SECONDS"])
                if claimed is None:
                    return False
                self.spare_process = None
                # The next run's process imports PyCaret on the other core while this run trains: queued runs wait
                # for no import either.
                self._ready_spare_process()
                self.train(claimed, process)
                return True
            finally:
                db.session.rollback()
                db.session.remove()

    def _ready_spare_process(self) -> TrainingProcess:
        """The next run's training process, spawned ahead: it imports PyCaret (seconds) before a run needs it."""
        if self.spare_process is not None and not self.spare_process.process.is_alive():
            self.discard_spare_process()
        if self.spare_process is None:
            work_root = Path(self.config["TRAINING_WORK_DIR"])
            work_root.mkdir(parents=True, exist_ok=True)
            work_dir = tempfile.mkdtemp(prefix="training-", dir=work_root)
            self.spare_process = TrainingProcess(work_dir, self.config["TRAINING_THREADS"])
            self.spare_process.start()
        return self.spare_process

    def discard_spare_process(self) -> None:
        if self.spare_process is not None:
            self.spare_process.kill()
            shutil.rmtree(self.spare_process.work_dir, ignore_errors=True)
            self.spare_process = None

    def train(self, claimed: run_leases.ClaimedRun, process: TrainingProcess) -> None:
        fence = claimed.fence
        params = claimed.params
        budget_s = int(params["time_budget_s"])
        # The hard limit: the run's budget plus grace, and never more than the largest budget allowed plus grace.
        limit_s = min(budget_s, self.config["TRAINING_MAX_TIME_BUDGET_S"]) + self.config["TRAINING_GRACE_S"]
        try:
            process.run(self._job(claimed))
            self._supervise(fence, process, budget_s, time.monotonic() + limit_s, params["target"])
        finally:
            if process.process.is_alive():
                process.kill()
            shutil.rmtree(process.work_dir, ignore_errors=True)

    def _job(self, claimed: run_leases.ClaimedRun) -> TrainingJob:
        params = claimed.params
        return TrainingJob(
            task=params.get("task", TASK_REGRESSION),
            forecast=params.get("forecast"),
            activate=params.get("activate", ACTIVATE_IF_BETTER),
            champion=self._champion(claimed),
            run_id=claimed.fence.run_id,
            object_key=params["object_key"],
            target=params["target"],
            include=params.get("include"),
            exclude=params.get("exclude"),
            ignore_features=[ignored["column"] for ignored in params.get("ignored_features", [])],
            categorical_features=[categorical["column"] for categorical in params.get("made_categorical", [])],
            folds=int(params.get("folds", 5)),
            sort=params["sort"],
            seed=int(params["seed"]),
            time_budget_s=int(params["time_budget_s"]),
            threads=self.config["TRAINING_THREADS"],
            object_store_url=self.config["OBJECT_STORE_URL"],
            object_store_options={key: self.config[key] for key in STORE_OPTION_KEYS},
            max_missing_target_share=self.config["TRAINING_MAX_MISSING_TARGET_SHARE"],
            min_rows=self.config["TRAINING_MIN_ROWS"],
            dask_scheduler_address=self.config["DASK_SCHEDULER_ADDRESS"],
        )

    def _champion(self, claimed: run_leases.ClaimedRun) -> Champion | None:
        """The model serving the project now, its artifact checked as the predictor checks it before unpickling."""
        serving = model_registry.serving_version(claimed.owner_id, claimed.project_id)
        if serving is None:
            return None
        try:
            record = ArtifactRecord(
                serving.project_id,
                serving.version,
                serving.sha256,
                serving.artifact_hmac,
                serving.library_versions or {},
            )
            check_artifact(serving.artifact, record, self.config["MODEL_SIGNING_KEY"])
        except ArtifactRejected as rejected:
            log.warning("run %s: the serving model cannot be compared: %s", claimed.fence.run_id, rejected)
            return Champion(serving.version, serving.task, None, "its artifact failed its integrity check")
        return Champion(serving.version, serving.task, serving.artifact)

    def _supervise(
        self, fence: run_leases.RunFence, process: TrainingProcess, budget_s: int, deadline: float, target: str
    ) -> None:
        lease_s = self.config["TRAINING_LEASE_SECONDS"]
        heartbeat_s = self.config["TRAINING_HEARTBEAT_SECONDS"]
        next_heartbeat = 0.0
        next_sweep = time.monotonic() + lease_s
        progress: Progress | None = Progress("starting", 0.0)
        while True:
            for message in process.messages(SUPERVISE_TICK_SECONDS):
                if isinstance(message, Progress):
                    progress = message
                elif isinstance(message, TrainingResult):
                    process.join(30)
                    self._save(fence, message, target)
                    return
                elif isinstance(message, Failure):
                    process.join(30)
                    run_leases.finish_run(fence, RUN_FAILED, message.message)
                    return
            if process.ended:
                log.error("training process of run %s died with exit code %s", fence.run_id, process.exitcode)
                run_leases.finish_run(
                    fence,
                    RUN_FAILED,
                    "the training process stopped unexpectedly (it may have run out of memory); try fewer or "
                    "lighter models, or a smaller dataset",
                )
                return
            if self.stop_requested.is_set():
                process.kill()
                if run_leases.requeue_run(fence):
                    log.info("worker stopping: run %s is back in the queue", fence.run_id)
                return
            if time.monotonic() >= deadline:
                process.kill()
                run_leases.finish_run(
                    fence,
                    RUN_FAILED,
                    f"the run exceeded its {budget_s} s budget; give it a larger time_budget_s, or include fewer or "
                    "faster models",
                )
                return
            if progress is not None or time.monotonic() >= next_heartbeat:
                lease = self._heartbeat(fence, lease_s, progress)
                progress = None
                next_heartbeat = time.monotonic() + heartbeat_s
                if lease is None:
                    log.warning("run %s: claim lost; killing its training", fence.run_id)
                    process.kill()
                    return
                if lease.cancel_requested:
                    process.kill()
                    run_leases.finish_run(fence, RUN_CANCELLED)
                    return
            if time.monotonic() >= next_sweep:
                # Busy workers sweep too: with every worker on a long run, a dead worker's run still moves on in time.
                self._sweep_expired_leases()
                next_sweep = time.monotonic() + lease_s

    def _sweep_expired_leases(self) -> None:
        try:
            run_leases.sweep_expired_leases(self.config["TRAINING_MAX_ATTEMPTS"])
        except SQLAlchemyError:
            db.session.rollback()
            log.exception("sweeping expired leases failed; retrying later")

    def _heartbeat(
        self, fence: run_leases.RunFence, lease_s: float, progress: Progress | None
    ) -> run_leases.Lease | None:
        """Renew the lease; a database hiccup keeps the training going (the lease has slack) instead of losing it."""
        try:
            if progress is None:
                lease = run_leases.renew_lease(fence, lease_s)
            else:
                lease = run_leases.renew_lease(fence, lease_s, progress.stage, progress.fraction)
        except SQLAlchemyError:
            db.session.rollback()
            log.exception("heartbeat of run %s failed; retrying", fence.run_id)
            WORKER_HEARTBEATS.labels(HEARTBEAT_FAILED).inc()
            return run_leases.Lease(cancel_requested=False)
        WORKER_HEARTBEATS.labels(HEARTBEAT_LOST if lease is None else HEARTBEAT_RENEWED).inc()
        return lease

    def _save(self, fence: run_leases.RunFence, result: TrainingResult, target: str) -> None:
        if run_leases.renew_lease(fence, self.config["TRAINING_LEASE_SECONDS"], "saving", 0.95) is None:
            return
        version = run_leases.record_success(fence, result, target)
        if version is not None:
            log.info("run %s succeeded: model version %s", fence.run_id, version, extra={"run_id": fence.run_id})


def main(config: Mapping[str, Any] | None = None) -> int:
    app = create_app(config)
    if app.config["WORKER_METRICS_ADDRESS"]:
        start_metrics_server(app.config["WORKER_METRICS_ADDRESS"])
    # Training processes inherit these before they import NumPy; PyCaret's threads then stay within the cap.
    os.environ.update(thread_environment(app.config["TRAINING_THREADS"]))
    worker = TrainingWorker(app)
    signal.signal(signal.SIGTERM, worker.request_stop)
    signal.signal(signal.SIGINT, worker.request_stop)
    worker.run_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
