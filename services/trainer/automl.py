"""AutoML for regression with PyCaret, inside a training process (``training_process``).

Progress moves once per candidate model: one ``compare_models`` call compares them all (as a user would, and with
only the best refitted), and a hook on the experiment reports each candidate it has cross-validated. With a Dask
cluster, candidates are compared in batches (one per cluster worker) through ``FugueBackend``, and progress moves
once per batch.
"""

from __future__ import annotations

import logging
import math
import operator
import re
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import numpy as np

from services.trainer.model_evaluation import (
    Activation,
    decide_activation,
    holdout_sample,
    permutation_importance,
    training_profile,
)
from services.trainer.training_jobs import (
    STAGE_COMPARING,
    STAGE_FINALIZING,
    STAGE_PREPARING,
    TASK_REGRESSION,
    ReportProgress,
    TrainingError,
    TrainingJob,
    TrainingResult,
)
from shared.feature_schema import MAX_CATEGORIES_RECORDED
from shared.model_artifacts import load_checked_artifact
from shared.regression_metrics import regression_scores

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

# Every regression model id of pycaret 3.3.2 (``RegressionExperiment().models().index``); a test checks the list.
REGRESSION_MODEL_IDS: frozenset[str] = frozenset(
    {
        "ada", "ard", "br", "dt", "dummy", "en", "et", "gbr", "huber", "knn", "kr", "lar", "lasso", "lightgbm",
        "llar", "lr", "mlp", "omp", "par", "ransac", "rf", "ridge", "svm", "tr",
    }
)  # fmt: skip
METRICS = ("MAE", "MSE", "RMSE", "R2", "RMSLE", "MAPE")
SORT_METRICS = ("R2", "MAE", "MSE", "RMSE", "RMSLE", "MAPE")
HIGHER_IS_BETTER = {"R2"}
# Text a regression task reads as dates (``datetime.fromisoformat`` reads these, as the predictor does).
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?")
# Share of the time budget spent comparing candidates; the rest is for scoring on the holdout and finalizing.
COMPARE_SHARE_OF_BUDGET = 0.75
# PyCaret's default ``max_encoding_ohe``: a category column with more values is target-encoded, not one-hot.
MAX_ONE_HOT_CATEGORIES = 25
# What a target-encoded numeric category column is turned into: pandas' text dtype, which that encoder looks for.
CATEGORY_TEXT_DTYPE = "string"


def minimum_rows(folds: int, floor: int) -> int:
    """Fewest rows with a target value to train on: every validation fold needs a few rows to score."""
    return max(floor, 5 * folds)


# --- the data -----------------------------------------------------------------------------------------------------


def prepare_data(data: pd.DataFrame, target: str, max_missing_target_share: float) -> tuple[pd.DataFrame, str | None]:
    """Check the target, drop rows without it, turn date columns (and ISO date text) into datetimes and put rows in
    time order.

    Returns the data and the name of the date column that orders it (None when there is none).
    """
    import pandas as pd

    if target not in data.columns:
        raise TrainingError(f"column `{target}` is not in the dataset; choose one of its columns as the target")
    if not pd.api.types.is_numeric_dtype(data[target]) or pd.api.types.is_bool_dtype(data[target]):
        raise TrainingError(f"column `{target}` is not numeric; a regression target must hold numbers")
    data = data.copy()
    for column in data.columns:
        if data[column].dtype == object and _holds_dates(data[column]):
            try:
                data[column] = pd.to_datetime(data[column], format="ISO8601")
            except (TypeError, ValueError):
                pass  # a value past the sample is not a date: the column stays text
        if isinstance(data[column].dtype, pd.DatetimeTZDtype):
            data[column] = data[column].dt.tz_convert(None)
    missing_share = float(data[target].isna().mean()) if len(data) else 0.0
    if missing_share > max_missing_target_share:
        raise TrainingError(
            f"column `{target}` has {missing_share:.0%} missing values; fill them in or drop those rows and upload "
            "the dataset again"
        )
    data = data[data[target].notna()].reset_index(drop=True)
    date_columns = [c for c in data.columns if c != target and pd.api.types.is_datetime64_any_dtype(data[c])]
    order_by = date_columns[0] if date_columns else None
    if order_by is not None:
        data = data.sort_values(order_by, kind="stable").reset_index(drop=True)
    return data, order_by


def _holds_dates(column: pd.Series) -> bool:
    """Python dates (parquet's date32) or ISO 8601 text (``2012-05-04``, ``2012-05-04 13:00``): what the predictor
    reads as a datetime feature."""
    import datetime

    values = column.dropna().head(1000)
    if len(values) == 0:
        return False
    if all(isinstance(v, datetime.date) for v in values):
        return True
    return all(isinstance(v, str) and ISO_DATE.fullmatch(v) for v in values)


def describe_features(data: pd.DataFrame, target: str, categorical: Iterable[str] = ()) -> list[dict[str, Any]]:
    """The input schema a request must follow: the training columns minus the target, in order.

    Text columns, and the numeric ones trained as ``categorical``, list the categories seen in training.
    """
    import pandas as pd

    categorical = set(categorical)
    features: list[dict[str, Any]] = []
    for name in data.columns:
        if name == target:
            continue
        column = data[name]
        feature: dict[str, Any] = {"name": str(name), "dtype": str(column.dtype)}
        if pd.api.types.is_bool_dtype(column):
            pass
        elif pd.api.types.is_numeric_dtype(column):
            feature["min"] = _json_number(column.min())
            feature["max"] = _json_number(column.max())
            if name in categorical:
                # As ``str`` writes a number (3 → "3", 2.5 → "2.5"), which is how the predictor compares them.
                values = column.dropna().astype(CATEGORY_TEXT_DTYPE).unique()
                feature["categories"] = sorted(str(v) for v in values)[:MAX_CATEGORIES_RECORDED]
        elif not pd.api.types.is_datetime64_any_dtype(column):
            values = sorted({str(v) for v in column.dropna().unique()})
            feature["categories"] = values[:MAX_CATEGORIES_RECORDED]
        features.append(feature)
    return features


def setup_options(data: pd.DataFrame, target: str, order_by: str | None, categorical: Iterable[str]) -> dict[str, Any]:
    """PyCaret ``setup`` options for the prepared data: time-ordered validation and calendar features when it has a
    date column (``order_by``), and the ``categorical`` columns trained as categories."""
    import pandas as pd

    from shared.calendar_features import DATE_PARTS, WeekOfYear

    options: dict[str, Any] = {}
    custom_steps: list[tuple[str, Any]] = []
    if order_by is not None:
        # Validate on the future only: the holdout is the latest rows and each fold trains on earlier ones.
        options = {"data_split_shuffle": False, "fold_strategy": "timeseries", "fold_shuffle": False}
        options["create_date_columns"] = list(DATE_PARTS)
        dates = [c for c in data.columns if c != target and pd.api.types.is_datetime64_any_dtype(data[c])]
        custom_steps.append(("week_of_year", WeekOfYear(dates)))
    categories = categorical_setup(data, target, categorical)
    custom_steps += categories.pop("custom_pipeline", [])
    options |= categories
    if custom_steps:
        options |= {"custom_pipeline": custom_steps, "custom_pipeline_position": 0}
    return options


def categorical_setup(data: pd.DataFrame, target: str, named: Iterable[str]) -> dict[str, Any]:
    """PyCaret ``setup`` options that train the ``named`` columns as categories, besides the text ones.

    ``categorical_features`` replaces PyCaret's default (the text columns), so those go first. PyCaret encodes a
    category column with two values as 0/1 and one with up to ``max_encoding_ohe`` values one-hot, naming the
    columns to its encoders, which then take numbers too. Past that it uses a TargetEncoder that looks for text
    columns itself and passes numbers through unencoded, so the pipeline's first step turns those numeric columns into
    text (only those: the 0/1 mapping is made from the values before that step). The saved pipeline still takes the
    numbers the dataset had.
    """
    from sklearn.preprocessing import FunctionTransformer

    named = [name for name in dict.fromkeys(named) if name in data.columns and name != target]
    if not named:
        return {}
    text = [name for name in data.select_dtypes(include=["string", "object", "category"]).columns if name != target]
    options: dict[str, Any] = {
        "categorical_features": list(dict.fromkeys(text + named)),
        "max_encoding_ohe": MAX_ONE_HOT_CATEGORIES,
    }
    many_valued_numbers = [
        name for name in named if _is_number(data[name]) and data[name].nunique() > MAX_ONE_HOT_CATEGORIES
    ]
    if many_valued_numbers:
        as_text = operator.methodcaller("astype", dict.fromkeys(many_valued_numbers, CATEGORY_TEXT_DTYPE))
        options["custom_pipeline"] = [("numbers_as_categories", FunctionTransformer(as_text))]
    return options


def _is_number(column: pd.Series) -> bool:
    import pandas as pd

    return pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)


def _json_number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


# --- the training ---------------------------------------------------------------------------------------------------


def fit_best_model(job: TrainingJob, data: pd.DataFrame, report: ReportProgress) -> tuple[Any, TrainingResult]:
    """Compare the candidates, score the best on the holdout, refit it on all rows; PyCaret must be importable.

    Returns the refitted pipeline and the run's result (with the pipeline stored as its artifact).
    """
    from shared.model_artifacts import dump_pipeline

    started = time.monotonic()
    report(STAGE_PREPARING, 0.05)
    data = data.drop(columns=[c for c in job.ignore_features if c in data.columns and c != job.target])
    data, order_by = prepare_data(data, job.target, job.max_missing_target_share)
    min_rows = minimum_rows(job.folds, job.min_rows)
    if len(data) < min_rows:
        raise TrainingError(
            f"only {len(data)} rows have a value for `{job.target}`; {job.folds}-fold validation needs at least "
            f"{min_rows}"
        )
    experiment = _experiment_reporting_each_candidate()
    experiment.setup(
        data,
        target=job.target,
        session_id=job.seed,
        fold=job.folds,
        n_jobs=job.threads,
        verbose=False,
        html=False,
        memory=False,
        system_log=False,
        **setup_options(data, job.target, order_by, job.categorical_features),
    )
    candidates = _candidates(experiment, job)
    report(STAGE_COMPARING, 0.1)
    compare_deadline = started + job.time_budget_s * COMPARE_SHARE_OF_BUDGET
    if job.dask_scheduler_address:
        leaderboard, best_model = _compare_on_dask(experiment, job, candidates, report)
    else:
        leaderboard, best_model = _compare_in_one_call(experiment, job, candidates, compare_deadline, report)
    if not leaderboard:
        raise TrainingError(
            "none of the candidate models could be trained on this data; check the columns or include other models"
        )
    best_row = leaderboard[0]

    report(STAGE_FINALIZING, 0.85)
    experiment.predict_model(best_model, verbose=False)
    holdout = _metrics_from(experiment.pull().iloc[0])
    holdout_rows, actual = experiment.X_test, experiment.y_test.to_numpy(dtype="float64")

    def predict_with_training_split_model(rows: pd.DataFrame) -> np.ndarray:
        return np.asarray(best_model.predict(experiment.pipeline.transform(rows)), dtype="float64")

    predicted = predict_with_training_split_model(holdout_rows)
    scores = regression_scores(actual, predicted)
    holdout |= {"WAPE": scores["WAPE"], "bias": scores["bias"]}
    activation = _activation(job, holdout_rows, actual, scores)
    by_permutation = permutation_importance(predict_with_training_split_model, holdout_rows, actual, job.seed)
    pipeline = experiment.finalize_model(best_model)
    return pipeline, TrainingResult(
        artifact=dump_pipeline(pipeline),
        algorithm=best_row["model"],
        leaderboard=leaderboard,
        metrics={"cv": {m: best_row[m] for m in METRICS}, "holdout": holdout},
        features=describe_features(data, job.target, job.categorical_features),
        feature_importance=feature_importance(pipeline, [f for f in data.columns if f != job.target]),
        activation=activation.as_record(),
        permutation_importance=by_permutation,
        training_profile=training_profile(data, job.target, job.seed),
        evaluation=holdout_sample(actual, predicted, job.seed),
    )


def _activation(job: TrainingJob, rows: pd.DataFrame, actual: np.ndarray, scores: dict[str, Any]) -> Activation:
    """Whether the new model serves: it is scored against the champion on this run's holdout, with the run's metric
    (``sort``, R2 by default)."""
    champion = job.champion
    if champion is None:
        return decide_activation(job.activate, job.sort, scores[job.sort], None, None)
    problem = champion.problem
    champion_score = None
    if problem is None and champion.task != TASK_REGRESSION:
        problem = f"it is a {champion.task} model"
    if problem is None:
        champion_pipeline = load_checked_artifact(champion.artifact)
        columns = list(champion_pipeline.feature_names_in_[:-1])
        missing = [column for column in columns if column not in rows.columns]
        if missing:
            problem = f"the dataset has no column {', '.join(f'`{name}`' for name in missing[:5])}"
        else:
            predicted = np.asarray(champion_pipeline.predict(rows[columns]), dtype="float64")
            champion_score = regression_scores(actual, predicted)[job.sort]
    return decide_activation(job.activate, job.sort, scores[job.sort], champion.version, champion_score, problem)


def _candidates(experiment: Any, job: TrainingJob) -> list[str]:
    if job.include:
        candidates = list(dict.fromkeys(job.include))
    else:
        available = experiment.models()  # internal=True adds Bagging, Stacking, Voting: not comparable alone
        candidates = [model_id for model_id in available.index if bool(available.loc[model_id, "Turbo"])]
    excluded = set(job.exclude or ())
    candidates = [c for c in candidates if c not in excluded]
    if not candidates:
        raise TrainingError("`include` and `exclude` leave no model to compare")
    return candidates


def _experiment_reporting_each_candidate() -> Any:
    """A ``RegressionExperiment`` that calls its ``on_candidate_scored()`` after each model ``compare_models`` scores.

    ``compare_models`` cross-validates every candidate through ``_create_model(..., refit=False)`` and then refits only
    the best; hooking that call moves progress once per candidate while one call compares them all (one call per
    candidate would also refit every candidate: +21% in the benchmark).
    """
    from pycaret.regression import RegressionExperiment

    class ExperimentReportingEachCandidate(RegressionExperiment):
        on_candidate_scored: Callable[[], None] = staticmethod(lambda: None)

        def _create_model(self, *args: Any, **kwargs: Any) -> Any:
            try:
                return super()._create_model(*args, **kwargs)
            finally:
                if kwargs.get("refit") is False:
                    self.on_candidate_scored()

    return ExperimentReportingEachCandidate()


def _compare_in_one_call(
    experiment: Any, job: TrainingJob, candidates: list[str], deadline: float, report: ReportProgress
) -> tuple[list[dict[str, Any]], Any]:
    """The leaderboard, best first, and the best model (refitted on PyCaret's training split)."""
    scored = 0

    def candidate_scored() -> None:
        nonlocal scored
        scored = min(scored + 1, len(candidates))
        report(STAGE_COMPARING, 0.1 + 0.7 * scored / len(candidates))

    experiment.on_candidate_scored = candidate_scored
    # PyCaret checks the budget (in minutes) before each candidate, so at least one is always scored.
    budget_minutes = max(deadline - time.monotonic(), 1.0) / 60
    best = experiment.compare_models(
        include=candidates, fold=job.folds, sort=job.sort, budget_time=budget_minutes, verbose=False
    )
    table = experiment.pull()
    if isinstance(best, list) or table.empty:
        return [], None
    leaderboard = [_leaderboard_row(str(model_id), row) for model_id, row in table.iterrows()]
    skipped = set(candidates) - {row["model"] for row in leaderboard}
    if skipped:
        log.warning("run %s: candidates %s failed to train or ran out of time", job.run_id, sorted(skipped))
    return leaderboard, best  # PyCaret's table is sorted by job.sort, best first


def _compare_on_dask(
    experiment: Any, job: TrainingJob, candidates: list[str], report: ReportProgress
) -> tuple[list[dict[str, Any]], Any]:
    from dask.distributed import Client
    from pycaret.parallel import FugueBackend

    scored: list[tuple[dict[str, Any], Any]] = []
    with Client(job.dask_scheduler_address, timeout=30) as client:
        batch_size = max(1, len(client.scheduler_info()["workers"]))
        for start in range(0, len(candidates), batch_size):
            batch = candidates[start : start + batch_size]
            models = experiment.compare_models(
                include=batch,
                fold=job.folds,
                sort=job.sort,
                n_select=len(batch),
                verbose=False,
                parallel=FugueBackend(client),
            )
            models = models if isinstance(models, list) else [models]
            table = experiment.pull()
            for model, (model_id, row) in zip(models, table.iterrows(), strict=False):
                scored.append((_leaderboard_row(str(model_id), row), model))
            report(STAGE_COMPARING, 0.1 + 0.7 * min(1.0, (start + len(batch)) / len(candidates)))
    if not scored:
        return [], None
    ascending = job.sort not in HIGHER_IS_BETTER
    scored.sort(key=lambda entry: _sort_key(entry[0][job.sort], ascending))
    return [row for row, _ in scored], scored[0][1]


def _leaderboard_row(model_id: str, row: Any) -> dict[str, Any]:
    return {
        "model": model_id,
        "name": str(row["Model"]),
        **_metrics_from(row),
        "fit_seconds": _json_number(row.get("TT (Sec)")),
    }


def _metrics_from(row: Any) -> dict[str, float | None]:
    return {metric: _json_number(row.get(metric)) for metric in METRICS}


def _sort_key(value: float | None, ascending: bool) -> float:
    if value is None:
        return math.inf
    return value if ascending else -value


def feature_importance(pipeline: Any, input_features: list[str]) -> list[dict[str, Any]]:
    """The final estimator's importances (or absolute coefficients), summed back onto the input columns.

    PyCaret's preprocessing renames what it expands (``date_year``, ``color_red``); when every transformed name maps
    back to an input column the importances are given per input column, otherwise per transformed column.
    """
    import numpy as np

    estimator = pipeline.steps[-1][1]
    names = getattr(estimator, "feature_names_in_", None)
    if names is None:
        names = getattr(estimator, "feature_name_", None)
    if getattr(estimator, "feature_importances_", None) is not None:
        values = np.asarray(estimator.feature_importances_, dtype=float)
    elif getattr(estimator, "coef_", None) is not None:
        values = np.abs(np.asarray(estimator.coef_, dtype=float)).reshape(-1)
    else:
        return []
    if names is None or len(names) != len(values):
        return []
    by_input = sorted(input_features, key=len, reverse=True)
    totals: dict[str, float] = {}
    unmapped = False
    for name, value in zip(names, values, strict=True):
        source = next((f for f in by_input if name == f or str(name).startswith(f"{f}_")), None)
        unmapped = unmapped or source is None
        totals[str(source or name)] = totals.get(str(source or name), 0.0) + float(value)
    if unmapped:
        totals = {str(name): float(value) for name, value in zip(names, values, strict=True)}
    ranked = sorted(totals.items(), key=lambda item: item[1], reverse=True)
    return [{"feature": name, "importance": _json_number(value)} for name, value in ranked]
