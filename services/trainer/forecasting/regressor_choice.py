"""PyCaret chooses the global model's regressor: ``compare_models`` over a few estimators, on the lag-feature frame
of the data up to the backtest's earliest origin (so the choice never sees a backtest window), with time-ordered
folds. The winner is then used, unfitted, by the mlforecast pipeline.

PyCaret runs in the training's own process (one training per spawned process, see ``automl``); where nothing set its
logging up, its log goes to a temporary directory, not to the working directory.
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass
from typing import Any

import pandas as pd

from shared.forecasting.panel import DS, ID, Y

FOLDS = 3
# PyCaret's holdout is not used here (the backtest is the holdout); it only needs a few rows.
TRAIN_SHARE = 0.95
# Enough rows per fold, the latest kept: older rows add little to a one-step comparison.
MAX_ROWS = 20_000


@dataclass(frozen=True)
class RegressorChoice:
    chosen: str
    table: list[dict[str, Any]]  # [{"model", "MAE", "fit_seconds"}] as compared, best first (scaled target units)
    seconds: float


def choose_regressor(features: pd.DataFrame, estimators: dict[str, Any], seed: int, threads: int) -> RegressorChoice:
    """The regressor id whose one-step cross-validated MAE on ``features`` (mlforecast's ``preprocess`` output) is
    lowest; with a single candidate, that one without comparing."""
    started = time.perf_counter()
    if len(estimators) == 1:
        (only,) = estimators
        return RegressorChoice(only, [{"model": only, "MAE": None, "fit_seconds": None}], 0.0)
    data = features.sort_values(DS, kind="stable").drop(columns=[ID, DS]).tail(MAX_ROWS).reset_index(drop=True)
    experiment = _experiment()
    experiment.setup(
        data,
        target=Y,
        session_id=seed,
        fold=FOLDS,
        fold_strategy="timeseries",
        fold_shuffle=False,
        data_split_shuffle=False,
        train_size=TRAIN_SHARE,
        # Folds one after the other: in parallel, PyCaret starts joblib worker processes that import everything
        # again (measured: most of the choice's time on a loaded machine). The estimators use the threads.
        n_jobs=1,
        verbose=False,
        html=False,
        memory=False,
        system_log=False,
    )
    ids = list(estimators)
    best = experiment.compare_models(include=[estimators[i] for i in ids], sort="MAE", n_select=1, verbose=False)
    table = experiment.pull()
    chosen = next(i for i in ids if type(estimators[i]) is type(best))
    # PyCaret's table names an estimator passed as an object by its model library's name for that class.
    names = experiment.models()["Name"]
    id_of = {str(name): model_id for model_id, name in names.items() if model_id in estimators}
    rows = [
        {
            "model": id_of.get(str(row["Model"]), str(row["Model"])),
            "MAE": float(row["MAE"]),
            "fit_seconds": float(row.get("TT (Sec)", 0.0)),
        }
        for _, row in table.iterrows()
    ]
    return RegressorChoice(chosen, rows, time.perf_counter() - started)


def _experiment() -> Any:
    os.environ.setdefault("PYCARET_CUSTOM_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("PYCARET_CUSTOM_LOGGING_PATH", os.path.join(tempfile.gettempdir(), "salesml-pycaret.log"))
    import matplotlib

    matplotlib.use("Agg")
    from pycaret.regression import RegressionExperiment

    return RegressionExperiment()
