"""Settings read only by the trainer (API and worker); the common ones are in ``shared.config.SETTINGS``."""

from __future__ import annotations

from shared.config import VAR_DIR, Setting

# Internal tokens (API) and signing the models it trains (worker); it never sees users' tokens.
SECRETS = ("INTERNAL_TOKEN_SECRET", "MODEL_SIGNING_KEY")

SETTINGS: tuple[Setting, ...] = (
    Setting(
        "TRAINING_MAX_ACTIVE_RUNS_PER_USER",
        2,
        int,
        description="Queued + running runs one user may have at once; one more POST /train answers 429.",
    ),
    Setting("TRAINING_DEFAULT_TIME_BUDGET_S", 600, int, description="A run's time budget when the request names none."),
    Setting(
        "TRAINING_MAX_TIME_BUDGET_S", 3600, int, description="Largest time budget a request may ask for (422 above)."
    ),
    Setting(
        "TRAINING_GRACE_S",
        60,
        int,
        description="Wall-clock slack after a run's budget before its training process is killed.",
    ),
    Setting(
        "TRAINING_LEASE_SECONDS",
        60,
        int,
        description="A running run whose worker has not renewed its lease for this long is re-queued.",
    ),
    Setting(
        "TRAINING_HEARTBEAT_SECONDS",
        5.0,
        float,
        description="How often a worker renews its lease, records progress and checks for cancellation.",
    ),
    Setting(
        "TRAINING_MAX_ATTEMPTS",
        3,
        int,
        description="Claims of one run (first try included) before a run whose workers keep vanishing is failed.",
    ),
    Setting(
        "TRAINING_THREADS", 1, int, description="CPU threads one training may use (n_jobs, OMP/MKL/OpenBLAS threads)."
    ),
    Setting("TRAINING_MIN_ROWS", 20, int, description="Fewest rows to train on: max(TRAINING_MIN_ROWS, 5 × folds)."),
    Setting(
        "TRAINING_MAX_MISSING_TARGET_SHARE",
        0.3,
        float,
        description="A target with a larger share of missing values is refused (422).",
    ),
    Setting(
        "TRAINING_WORK_DIR",
        str(VAR_DIR / "training"),
        description="Parent of each training's temporary working directory (PyCaret's files and logs).",
    ),
    Setting(
        "WORKER_POLL_SECONDS",
        0.5,
        float,
        description="How often an idle worker looks for queued runs when nothing wakes it (on PostgreSQL a new or "
        "re-queued run wakes idle workers at once through LISTEN/NOTIFY).",
    ),
    Setting("WORKER_ID", "", description="The worker's name in runs; empty: host name and process id."),
    Setting(
        "WORKER_METRICS_ADDRESS",
        "",
        description="`host:port` where a training worker serves its Prometheus metrics (any path, no token: keep it "
        "on an internal network); empty: none. Each worker on one machine needs a port of its own.",
    ),
    Setting(
        "DASK_SCHEDULER_ADDRESS",
        "",
        description="Empty: compare candidates in the training process; `tcp://host:8786`: over that Dask cluster.",
    ),
)
