"""Real PyCaret pipelines fitted in this process the way the trainer fits them (its data preparation, time-ordered
folds and category options), cheaply: each model finalized straight away, without comparing candidates."""

from __future__ import annotations

import os
from collections.abc import Iterable
from contextlib import chdir
from pathlib import Path
from typing import Any

import pandas as pd

from services.trainer.automl import describe_features, prepare_data, setup_options


def fitted_pipelines(
    data: pd.DataFrame,
    model_ids: Iterable[str],
    work_dir: Path,
    target: str = "sales",
    categorical: Iterable[str] = (),
    n_jobs: int = 1,
    **setup: Any,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The finalized pipeline of each model id, and the feature schema the trainer would record."""
    os.environ.setdefault("PYCARET_CUSTOM_LOGGING_PATH", str(work_dir / "pycaret.log"))
    os.environ.setdefault("PYCARET_CUSTOM_LOGGING_LEVEL", "WARNING")
    import matplotlib

    matplotlib.use("Agg")
    from pycaret.regression import RegressionExperiment

    categorical = list(categorical)
    data, order_by = prepare_data(data, target, max_missing_target_share=0.3)
    options = setup_options(data, target, order_by, categorical)
    with chdir(work_dir):
        experiment = RegressionExperiment()
        experiment.setup(
            data,
            target=target,
            session_id=0,
            fold=2,
            n_jobs=n_jobs,
            verbose=False,
            html=False,
            memory=False,
            system_log=False,
            **(options | setup),
        )
        # As finalize_model(compare_models(...)) makes it, without the cross-validation: one fit on all rows.
        pipelines = {model_id: experiment.finalize_model(model_id) for model_id in model_ids}
    return pipelines, describe_features(data, target, categorical)
