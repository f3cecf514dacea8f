"""Helpers for the trainer's worker tests: read a run's row, wait for it, start real worker processes."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Flask

from shared.db import db
from shared.training_records import TrainingRun

REPO_ROOT = Path(__file__).resolve().parent.parent


def run_status(app: Flask, run_id: int) -> TrainingRun:
    with app.app_context():
        run = db.session.get(TrainingRun, run_id)
        assert run is not None
        db.session.expunge(run)
        return run


def wait_for_run(app: Flask, run_id: int, condition: Callable[[TrainingRun], bool], timeout: float) -> TrainingRun:
    """Poll the run's row until ``condition`` holds (generous timeouts: these machines are shared and noisy)."""
    deadline = time.monotonic() + timeout
    while True:
        run = run_status(app, run_id)
        if condition(run):
            return run
        if time.monotonic() > deadline:
            raise AssertionError(f"run {run_id} still {run.status}/{run.stage} after {timeout} s")
        time.sleep(0.2)


def start_worker_process(config: dict[str, Any], log_path: Path, worker_id: str) -> subprocess.Popen:
    """``python -m services.trainer.worker`` as a real process, configured through its environment."""
    env = {**os.environ, "WORKER_ID": worker_id}
    for key, value in config.items():
        if key in {"SALESML_DEV_MODE"} or not isinstance(value, str | int | float | bool):
            continue
        env[key] = str(int(value)) if isinstance(value, bool) else str(value)
    log_file = log_path.open("ab")
    return subprocess.Popen(
        [sys.executable, "-m", "services.trainer.worker"], cwd=REPO_ROOT, env=env, stdout=log_file, stderr=log_file
    )
