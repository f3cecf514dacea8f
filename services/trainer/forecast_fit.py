"""The forecast task inside a training process: the engine (``services.trainer.forecasting``) trains the forecaster,
and this turns what it hands back into the run's result, the champion/challenger decision included.

A forecast challenger is compared with a forecast champion on the same backtest: when both were backtested on the
same windows of the same series (the same data, the same settings), their scores on them are compared with the
run's metric. Otherwise (other data, other windows, or a regression model serving) the new model serves, and the
reason says why.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from services.trainer.model_evaluation import Activation, decide_activation, json_records
from services.trainer.training_jobs import TASK_FORECAST, ReportProgress, TrainingError, TrainingJob, TrainingResult
from shared.model_artifacts import dump_pipeline, load_checked_artifact

if TYPE_CHECKING:
    import pandas as pd

    from services.trainer.forecasting import ForecastTrainingResult
    from shared.forecasting.model import ForecastModel


def fit_forecaster(job: TrainingJob, data: pd.DataFrame, report: ReportProgress) -> TrainingResult:
    """Backtest the candidates, choose one, fit it on all the data; ``TrainingError`` says what to change."""
    from services.trainer.automl import describe_features
    from services.trainer.forecasting import train_forecaster
    from shared.forecasting.panel import ForecastDataError, ForecastSpec

    settings = job.forecast or {}
    spec = ForecastSpec(
        target=job.target,
        date_column=settings.get("date_column"),
        series_columns=tuple(settings.get("series_columns") or ()),
        horizon=settings.get("horizon"),
        frequency=settings.get("frequency"),
        known_future=tuple(settings.get("known_future") or ()),
        backtest_windows=int(settings.get("backtest_windows") or 3),
    )
    try:
        with _dask_client(job.dask_scheduler_address) as client:
            trained = train_forecaster(
                data,
                spec,
                include=job.include,
                exclude=job.exclude,
                sort=job.sort,
                time_budget_s=job.time_budget_s,
                seed=job.seed,
                threads=job.threads,
                report=report,
                dask_client=client,
                holidays_country=settings.get("holidays_country"),
            )
    except ForecastDataError as problems:
        raise TrainingError(str(problems)) from None
    model = trained.model
    described = [*model.series_columns, *model.known_future]
    return TrainingResult(
        artifact=dump_pipeline(model),
        algorithm=trained.algorithm,
        leaderboard=trained.leaderboard,
        metrics=trained.metrics,
        features=describe_features(data[[*described, job.target]], job.target) if described else [],
        feature_importance=[],
        activation=_activation(job, trained).as_record(),
        evaluation={"kind": "backtest", "windows": backtest_windows(trained)},
        task=TASK_FORECAST,
        forecast=trained.forecast,
    )


def backtest_windows(trained: ForecastTrainingResult) -> list[dict[str, Any]]:
    """The backtest windows as JSON: each origin as an ISO date, its rows as records (dates as ISO text)."""
    return [
        {"origin": window["origin"].date().isoformat(), "rows": json_records(window["rows"])}
        for window in trained.backtest_windows
    ]


def _activation(job: TrainingJob, trained: ForecastTrainingResult) -> Activation:
    score = trained.metrics["backtest"].get(job.sort)
    champion = job.champion
    if champion is None:
        return decide_activation(job.activate, job.sort, score, None, None)
    problem, champion_score = champion.problem, None
    if problem is None and champion.task != TASK_FORECAST:
        problem = f"it is a {champion.task} model"
    if problem is None:
        serving: ForecastModel = load_checked_artifact(champion.artifact)
        if _same_backtest(serving, trained.model):
            champion_score = serving.metrics.get("backtest", {}).get(job.sort)
        else:
            problem = "it was backtested on other data or other windows, so the two cannot be compared"
    return decide_activation(job.activate, job.sort, score, champion.version, champion_score, problem)


def _same_backtest(serving: ForecastModel, challenger: ForecastModel) -> bool:
    """Both models were scored on the same points: the same series, windows, dates and actual values."""
    columns = ["window", "origin", "unique_id", "ds", "actual"]
    try:
        ours, theirs = serving.backtest[columns], challenger.backtest[columns]
        return ours.reset_index(drop=True).equals(theirs.reset_index(drop=True))
    except (AttributeError, KeyError):
        return False


@contextmanager
def _dask_client(address: str) -> Iterator[Any]:
    """A Dask client for ``address``, or None when it is empty (everything runs in the training process)."""
    if not address:
        yield None
        return
    from dask.distributed import Client

    with Client(address, timeout=30) as client:
        yield client
