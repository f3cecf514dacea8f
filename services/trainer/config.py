"""Settings read only by the trainer (API and worker); the common ones are in ``shared.config.SETTINGS``."""

from __future__ import annotations

from shared.config import VAR_DIR, Setting

SETTINGS: tuple[Setting, ...] = (
    # Queued + running runs one user may have at once; one more POST /train answers 429.
    Setting("TRAINING_MAX_ACTIVE_RUNS_PER_USER", 2, int),
    Setting("TRAINING_DEFAULT_TIME_BUDGET_S", 600, int),
    Setting("TRAINING_MAX_TIME_BUDGET_S", 3600, int),
    # Wall-clock slack after a run's budget before its training process is killed (finalizing the best model).
    Setting("TRAINING_GRACE_S", 60, int),
    # A running run whose worker has not renewed its lease for this long is re-queued by any worker's sweep.
    Setting("TRAINING_LEASE_SECONDS", 60, int),
    Setting("TRAINING_HEARTBEAT_SECONDS", 5.0, float),
    # Claims of one run (first try included) before a run whose workers keep vanishing is marked failed.
    Setting("TRAINING_MAX_ATTEMPTS", 3, int),
    # CPU threads one training may use (n_jobs, OMP/MKL/OpenBLAS threads).
    Setting("TRAINING_THREADS", 1, int),
    # Fewest rows to train on: max(TRAINING_MIN_ROWS, 5 × folds).
    Setting("TRAINING_MIN_ROWS", 20, int),
    # A target column with a larger share of missing values is refused instead of silently dropping most rows.
    Setting("TRAINING_MAX_MISSING_TARGET_SHARE", 0.3, float),
    Setting("TRAINING_WORK_DIR", str(VAR_DIR / "training")),
    Setting("WORKER_POLL_SECONDS", 2.0, float),
    # Empty: a name made of the host name and process id.
    Setting("WORKER_ID", ""),
    # Empty: candidates are compared in the training process; "tcp://host:8786": spread over that Dask cluster.
    Setting("DASK_SCHEDULER_ADDRESS", ""),
)
