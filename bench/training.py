"""Section 4: training wall time through the platform against the same PyCaret calls in-process, and on Dask."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.report import SECTIONS, Report, Row, number, ratio, verdict
from bench.session import RUN_POLL_SECONDS, Session, create_project_with, serving_model, train_through_platform
from demo.supplements import generate_supplements_sales

TRAINING = SECTIONS[3]

MAX_TRAINING_OVERHEAD = 0.05


def import_pycaret(run_dir: Path) -> None:
    """Import PyCaret here, logging to the run folder (not ./logs.log)."""
    os.environ["PYCARET_CUSTOM_LOGGING_PATH"] = str(run_dir / "pycaret.log")
    os.environ["PYCARET_CUSTOM_LOGGING_LEVEL"] = "WARNING"
    import matplotlib

    matplotlib.use("Agg")
    import pycaret.regression  # noqa: F401


def pycaret_import_seconds(run_dir: Path) -> float:
    """Seconds a fresh Python process takes to start and import PyCaret, as each training process does."""
    env = {**os.environ, "PYCARET_CUSTOM_LOGGING_PATH": str(run_dir / "pycaret.log"), "MPLBACKEND": "Agg"}
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import pycaret.regression"], env=env, cwd=run_dir, check=True)
    return time.perf_counter() - started


def train_supplements(session: Session, report: Report) -> None:
    """Section 4 (first: the later sections use its model): the same training through the platform and in-process."""
    sizes = session.sizes
    data = generate_supplements_sales(rows=sizes.training_rows, seed=0)
    session.project_id = create_project_with(session, "supplements", "sales", data)
    runs = [
        train_through_platform(session, session.project_id, sizes.training_params, timeout_s=1800)
        for _ in range(sizes.training_repeats)
    ]
    run = sorted(runs, key=lambda finished: finished["platform_seconds"])[len(runs) // 2]
    session.model = serving_model(session.database_url, session.project_id, session.platform.env["MODEL_SIGNING_KEY"])
    session.trained["supplements"] = (session.project_id, data)
    candidates = len(run["leaderboard"])
    print(f"  trained {run['model_version']} ({candidates} candidates) in {run['wall_seconds']:.1f} s", flush=True)

    import_seconds = pycaret_import_seconds(session.run_dir)
    import_pycaret(session.run_dir)
    in_process = float(
        np.median([train_in_process(data, "sales", run["params"], threads=1) for _ in range(sizes.training_repeats)])
    )
    overhead = run["platform_seconds"] / in_process - 1.0
    settings = f"{sizes.training_rows:,} rows, {candidates} models, {run['params']['folds']} folds, 1 thread"
    report.add(
        Row(
            TRAINING,
            f"platform: POST /train → succeeded, by the run's own created_at and finished_at ({settings}; median "
            f"of {sizes.training_repeats}; the client, polling every {RUN_POLL_SECONDS} s, saw "
            f"{number(run['wall_seconds'])} s)",
            f"{number(run['platform_seconds'])} s",
            f"in-process setup + compare_models + predict_model + finalize_model: {number(in_process)} s",
            f"{overhead:+.0%} overhead",
            f"overhead ≤ {MAX_TRAINING_OVERHEAD:.0%}",
            verdict(overhead <= MAX_TRAINING_OVERHEAD),
        )
    )
    report.add(
        Row(
            TRAINING,
            "new Python process + import pycaret.regression (each training pays it; not in the in-process figure)",
            f"{number(import_seconds)} s",
        )
    )
    if sizes.dask:
        dask_seconds, dask_candidates = train_on_dask(session, sizes.training_params)
        report.add(
            Row(
                TRAINING,
                f"platform with DASK_SCHEDULER_ADDRESS: LocalCluster(n_workers=2, threads_per_worker=1), "
                f"{dask_candidates} models",
                f"{number(dask_seconds)} s",
                f"platform, one training process: {number(run['wall_seconds'])} s",
                f"{ratio(run['wall_seconds'] / dask_seconds)} faster"
                if dask_seconds < run["wall_seconds"]
                else f"{ratio(dask_seconds / run['wall_seconds'])} slower",
            )
        )


def train_in_process(data: pd.DataFrame, target: str, params: dict[str, Any], threads: int) -> float:
    """Seconds of the PyCaret calls a user would make by hand, with the platform's settings for this run."""
    from pycaret.regression import RegressionExperiment
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=threads):
        started = time.perf_counter()
        experiment = RegressionExperiment()
        experiment.setup(
            data,
            target=target,
            session_id=params["seed"],
            fold=params["folds"],
            n_jobs=threads,
            verbose=False,
            html=False,
            memory=False,
            system_log=False,
        )
        best = experiment.compare_models(
            include=params.get("include"),
            exclude=params.get("exclude"),
            fold=params["folds"],
            sort=params["sort"],
            verbose=False,
        )
        experiment.predict_model(best, verbose=False)
        experiment.finalize_model(best)
        return time.perf_counter() - started


def train_on_dask(session: Session, body: dict[str, Any]) -> tuple[float, int]:
    """The same training through the trainer, its worker pointed at a 2-process Dask cluster started here."""
    from dask.distributed import LocalCluster

    worker_env = {
        "PYCARET_CUSTOM_LOGGING_PATH": str(session.run_dir / "pycaret-dask.log"),
        "PYCARET_CUSTOM_LOGGING_LEVEL": "WARNING",
        "OMP_NUM_THREADS": "1",
        "MPLBACKEND": "Agg",
    }
    with LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        local_directory=str(session.run_dir / "dask"),
        env=worker_env,
    ) as cluster:
        session.platform.restart("worker", DASK_SCHEDULER_ADDRESS=cluster.scheduler_address)
        try:
            run = train_through_platform(session, session.project_id, body, timeout_s=1800)
        finally:
            session.platform.restart("worker")
    return run["wall_seconds"], len(run["leaderboard"])
