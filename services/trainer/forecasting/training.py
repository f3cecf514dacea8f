"""Training a forecaster: every candidate through the backtest, one chosen for all series, intervals, the final fit.

1. The panel is prepared (``shared.forecasting.panel``) and the backtest windows planned (``windows``).
2. Each candidate is backtested (``backtest``): baselines, statistical models per series, the global regression
   model whose regressor PyCaret's ``compare_models`` picks, and the ensemble.
3. One method serves all series: the best by the aggregate backtest score (``sort``, MASE by default). A candidate
   that does not beat seasonal naive there never serves; the leaderboard says why. Choosing per series was measured
   worse (FACTS: a per-store selector picked seasonal naive for 39 of 45 Walmart stores and scored 52,274 against
   41,106 for one method everywhere).
4. The ensemble averages the best few candidates that beat seasonal naive. Its backtest score is honest: each
   window's members are chosen on the other windows only.
5. Intervals are conformal on the chosen model's backtest errors (``shared.forecasting.intervals``), their coverage
   measured leave-one-window-out.
6. Only the models that serve are fitted again, on all the data; their forecasts from its end are computed once.

The time budget: candidates run cheapest first. AutoARIMA, the slow one, is fitted once per series (at the
earliest backtest origin, its parameters carried forward to the later windows and to serving, see ``backtest``),
and is first timed on a few series and skipped when that fit would take more than a quarter of what is left of the
budget. A served model whose refit would overrun the budget keeps the parameters of its latest backtest fit. The
leaderboard says so in each case.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone

from services.trainer.forecasting.backtest import (
    FITTED_ONCE,
    Backtest,
    CandidateBacktest,
    backtest_global,
    backtest_statistical,
    plan_backtest,
    score_forecasts,
)
from services.trainer.forecasting.candidates import (
    ENSEMBLE,
    REFERENCE,
    candidate_name,
    candidate_problems,
    regressor,
    select_candidates,
)
from services.trainer.forecasting.regressor_choice import RegressorChoice, choose_regressor
from services.trainer.forecasting.runner import SeriesRunner
from shared.forecasting.forecasters import (
    FORECAST,
    GlobalRegressionForecaster,
    StatisticalForecaster,
    fit_one,
    series_arrays,
)
from shared.forecasting.intervals import conformal_widths, interval_scales, leave_one_window_out_coverage
from shared.forecasting.metrics import METRICS
from shared.forecasting.model import ForecastModel
from shared.forecasting.panel import DS, ID, ForecastDataError, ForecastSpec, Panel, Y, prepare_panel

log = logging.getLogger(__name__)

DEFAULT_TIME_BUDGET_S = 300
SORT_METRICS = METRICS
ENSEMBLE_SIZE = 3
STATISTICAL_ORDER = ("snaive", "naive", "mean", "theta", "ets", "arima")
PROBED = frozenset({"arima"})
PROBE_SERIES = 2
MAX_BUDGET_SHARE = 1 / 4  # a probed candidate runs only if its backtest is expected to take less than this
STAGE_PREPARING = "preparing"
STAGE_COMPARING = "comparing models"
STAGE_FINALIZING = "finalizing"

Report = Callable[[str, float], None]


@dataclass
class ForecastTrainingResult:
    """What a forecast training hands back; the trainer stores all but ``model`` as JSON and pickles ``model``."""

    model: ForecastModel
    algorithm: str
    leaderboard: list[dict[str, Any]]
    metrics: dict[str, dict[str, float | None]]  # {"backtest": {...}} of the served model
    interval_coverage: dict[str, float | None]
    backtest_windows: list[dict[str, Any]]
    forecast: dict[str, Any]  # the model's "forecast" block of the API
    regressor_choice: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    phase_seconds: dict[str, float] = field(default_factory=dict)  # where the time went (preparing, each candidate…)


@dataclass
class _Budget:
    started: float
    seconds: float

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    @property
    def remaining(self) -> float:
        return self.seconds - self.elapsed


def train_forecaster(
    frame: pd.DataFrame,
    spec: ForecastSpec,
    include: list[str] | None = None,
    exclude: list[str] | None = None,
    sort: str = "MASE",
    time_budget_s: float = DEFAULT_TIME_BUDGET_S,
    seed: int = 0,
    threads: int = 1,
    report: Report = lambda stage, fraction: None,
    dask_client: Any = None,
    holidays_country: str | None = None,
) -> ForecastTrainingResult:
    """Backtest the candidates on ``frame`` as ``spec`` describes it, choose one, fit it on all the data.

    Raises ``ForecastDataError`` (field → messages) for anything that must be a 422. With ``dask_client``, the
    per-series statistical fits and their backtest windows run on the cluster.
    """
    budget = _Budget(time.monotonic(), float(time_budget_s))
    report(STAGE_PREPARING, 0.02)
    problems = candidate_problems(include, exclude)
    if sort not in SORT_METRICS:
        problems["sort"] = [f"sort must be one of {', '.join(SORT_METRICS)}"]
    if holidays_country:
        problems.update(_holiday_problems(holidays_country))
    if problems:
        raise ForecastDataError(problems)
    phases = _Phases()
    with phases.measure("preparing"):
        panel = prepare_panel(frame, spec)
        selection = select_candidates(include, exclude)
        backtest = plan_backtest(panel)
    nonnegative = bool(panel.frame[Y].min() >= 0)
    report(STAGE_PREPARING, 0.05)

    steps_total = len(selection.statistical) + (2 if selection.regressors else 0) + 1
    progress = _Progress(report, steps_total)
    results: dict[str, CandidateBacktest] = {}
    skipped: dict[str, str] = {}
    globals_: dict[str, GlobalRegressionForecaster] = {}
    choice: RegressorChoice | None = None
    with SeriesRunner(threads, dask_client) as runner:
        for model_id in [m for m in STATISTICAL_ORDER if m in selection.statistical]:
            with phases.measure(model_id):
                reason = _unaffordable(model_id, panel, backtest, runner, budget) if model_id in PROBED else None
                if reason:
                    skipped[model_id] = reason
                else:
                    results[model_id] = backtest_statistical(model_id, panel, backtest, runner)
            progress.step()
        if selection.regressors:
            try:
                with phases.measure("regressor choice"):
                    forecaster, choice = _global_candidate(
                        selection.regressors, panel, backtest, seed, threads, holidays_country, sort != "RMSE"
                    )
                progress.step()
                with phases.measure(forecaster.id):
                    results[forecaster.id] = backtest_global(forecaster, panel, backtest)
                globals_[forecaster.id] = forecaster
            except Exception as exc:  # the statistical candidates still make a forecast
                log.exception("the global regression model failed")
                failed = choice.chosen if choice else selection.regressors[0]
                results.pop(failed, None)
                skipped[failed] = f"failed to train ({type(exc).__name__}); the other candidates were compared"
            progress.step()

        values = {m: _clip(backtest.values(r.forecasts), nonnegative) for m, r in results.items()}
        scores = {m: score_forecasts(backtest, v) for m, v in values.items()}
        metric = sort if scores[REFERENCE][sort] is not None else "MAE"
        eligible = _beating_reference(scores, metric)
        members_note = None
        if selection.ensemble and len(eligible) >= 2:
            values[ENSEMBLE], members_note = _honest_ensemble(backtest, values, eligible, metric)
            scores[ENSEMBLE] = score_forecasts(backtest, values[ENSEMBLE])
            eligible = _beating_reference(scores, metric)
        elif selection.ensemble:
            skipped[ENSEMBLE] = f"not built: it averages candidates that beat seasonal naive, and {len(eligible)} did"
        progress.step()

        chosen = min(eligible, key=lambda m: scores[m][metric]) if eligible else REFERENCE
        members = (
            _ranked(eligible, scores, metric, exclude={ENSEMBLE})[:ENSEMBLE_SIZE] if chosen == ENSEMBLE else [chosen]
        )
        report(STAGE_FINALIZING, 0.85)
        scaled = np.abs(backtest.points[Y].to_numpy() - values[chosen]) / backtest.points["interval_scale"].to_numpy()
        steps = backtest.points["step"].to_numpy()
        widths = conformal_widths(steps, scaled, panel.horizon)
        coverage = leave_one_window_out_coverage(backtest.points["window"].to_numpy(), steps, scaled, panel.horizon)
        with phases.measure("final fit"):
            final_members, final_notes = _final_members(
                members, panel, results, globals_, runner, budget, threads, holidays_country
            )

    report(STAGE_FINALIZING, 0.95)
    with phases.measure("served model"):
        model = _served_model(panel, chosen, final_members, nonnegative, widths, coverage, backtest, values[chosen])
    model.metrics = {"backtest": scores[chosen]}
    leaderboard = _leaderboard(
        scores, results, skipped, eligible, chosen, metric, members, members_note, final_notes, choice
    )
    report(STAGE_FINALIZING, 0.98)
    return ForecastTrainingResult(
        model=model,
        algorithm=chosen,
        leaderboard=leaderboard,
        metrics={"backtest": scores[chosen]},
        interval_coverage=model.interval_coverage,
        backtest_windows=model.backtest_windows(),
        forecast=model.describe(),
        regressor_choice=choice.table if choice else [],
        seconds=budget.elapsed,
        phase_seconds=phases.seconds,
    )


class _Phases:
    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def measure(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = round(self.seconds.get(name, 0.0) + time.perf_counter() - started, 3)


class _Progress:
    def __init__(self, report: Report, total: int) -> None:
        self.report = report
        self.total = total
        self.done = 0

    def step(self) -> None:
        self.done += 1
        self.report(STAGE_COMPARING, 0.05 + 0.8 * min(1.0, self.done / self.total))


def _holiday_problems(country: str) -> dict[str, list[str]]:
    import holidays

    try:
        holidays.country_holidays(country)
    except (NotImplementedError, KeyError, ValueError):
        return {"holidays_country": [f"`{country}` is not a country code the holidays package knows (e.g. US, GB)"]}
    return {}


def _clip(values: np.ndarray, nonnegative: bool) -> np.ndarray:
    """Forecasts of a target that was never negative are never negative."""
    return np.maximum(values, 0.0) if nonnegative else values


def _unaffordable(model_id: str, panel: Panel, backtest: Backtest, runner: SeriesRunner, budget: _Budget) -> str | None:
    """Why a slow candidate is skipped (None when it fits the budget): a fit on a few series, extrapolated."""
    series = series_arrays(panel.frame)
    first_back = backtest.windows[0].periods_after_origin
    probe = series[:: max(1, len(series) // PROBE_SERIES)][:PROBE_SERIES]
    started = time.perf_counter()
    for _, y in probe:
        fit_one(model_id, panel.season_length, y[: len(y) - first_back])
    per_series = (time.perf_counter() - started) / len(probe)
    fits = 1 if model_id in FITTED_ONCE else len(backtest.windows)
    expected = per_series * len(series) * fits / runner.workers
    allowed = budget.remaining * MAX_BUDGET_SHARE
    if expected <= allowed:
        return None
    return (
        f"skipped: its backtest would take about {expected:.0f} s ({per_series:.2f} s per series on "
        f"{runner.workers} worker(s)), more than a quarter of the {budget.remaining:.0f} s left of the time budget; "
        "give the run a larger time_budget_s to include it"
    )


def _global_candidate(
    regressor_ids: list[str],
    panel: Panel,
    backtest: Backtest,
    seed: int,
    threads: int,
    holidays_country: str | None,
    absolute_error: bool,
) -> tuple[GlobalRegressionForecaster, RegressorChoice]:
    """The global regression model, its regressor chosen by PyCaret on the data before the earliest origin."""
    first_history = int(panel.lengths.min()) - backtest.windows[0].periods_after_origin

    def forecaster(model_id: str) -> GlobalRegressionForecaster:
        return GlobalRegressionForecaster(
            model_id,
            candidate_name(model_id),
            regressor(model_id, seed, threads, absolute_error),
            panel.frequency.alias,
            panel.frequency.kind,
            known_future=panel.known_future,
            max_lag=max(1, first_history // 2),
            holidays_country=holidays_country,
            threads=threads,
        )

    probe = forecaster(regressor_ids[0])
    first_cut = backtest.cut(panel.frame, 0)[[ID, DS, Y, *panel.known_future]]
    features = probe.make_pipeline().preprocess(first_cut, static_features=[])
    estimators = {m: regressor(m, seed, threads, absolute_error) for m in regressor_ids}
    choice = choose_regressor(features, estimators, seed, threads)
    return forecaster(choice.chosen), choice


def _beating_reference(scores: dict[str, dict[str, float | None]], metric: str) -> list[str]:
    reference = scores[REFERENCE][metric]
    return [
        m
        for m, s in scores.items()
        if m != REFERENCE and s[metric] is not None and reference is not None and s[metric] < reference
    ]


def _ranked(
    candidates: list[str], scores: dict[str, dict[str, float | None]], metric: str, exclude: set[str]
) -> list[str]:
    return sorted((m for m in candidates if m not in exclude), key=lambda m: scores[m][metric])  # type: ignore[arg-type,return-value]


def _honest_ensemble(
    backtest: Backtest, values: dict[str, np.ndarray], eligible: list[str], metric: str
) -> tuple[np.ndarray, str]:
    """The ensemble's backtest forecasts: in each window, the average of the best ``ENSEMBLE_SIZE`` candidates as
    scored on the other windows (with one window, on that window itself: optimistic, and said so)."""
    windows = backtest.points["window"].to_numpy()
    result = np.empty(len(windows))
    singles = [m for m in eligible if m != ENSEMBLE]
    distinct = np.unique(windows)
    for window in distinct:
        own = windows == window
        others = ~own if len(distinct) > 1 else own
        points = backtest.points[others]
        reference = _subset_score(points, values[REFERENCE][others], metric)
        window_scores = {m: _subset_score(points, values[m][others], metric) for m in singles}
        better = [
            m
            for m in singles
            if window_scores[m] is not None and reference is not None and window_scores[m] < reference
        ] or singles
        chosen = sorted(better, key=lambda m: window_scores[m] if window_scores[m] is not None else math.inf)
        result[own] = np.mean([values[m][own] for m in chosen[:ENSEMBLE_SIZE]], axis=0)
    if len(distinct) > 1:
        return result, "its backtest score averages, in each window, the members chosen on the other windows"
    return result, "with a single backtest window, its members were chosen on that window (an optimistic score)"


def _subset_score(points: pd.DataFrame, values: np.ndarray, metric: str) -> float | None:
    from shared.forecasting.metrics import score

    return score(points.assign(forecast=values), "forecast", group_cols=("window", ID))[metric]


def _final_members(
    members: list[str],
    panel: Panel,
    results: dict[str, CandidateBacktest],
    globals_: dict[str, GlobalRegressionForecaster],
    runner: SeriesRunner,
    budget: _Budget,
    threads: int,
    holidays_country: str | None,
) -> tuple[list[Any], dict[str, str]]:
    """The served members fitted on all the data (or, when a refit would overrun the budget, their backtest fit)."""
    fitted: list[Any] = []
    notes: dict[str, str] = {}
    for model_id in members:
        if model_id in globals_:
            backtested = globals_[model_id]
            forecaster = GlobalRegressionForecaster(
                model_id,
                backtested.name,
                clone(backtested.estimator),
                panel.frequency.alias,
                panel.frequency.kind,
                known_future=panel.known_future,
                max_lag=max(backtested.lags + backtested.rolling_windows),
                holidays_country=holidays_country,
                threads=threads,
            )
            forecaster.fit(panel.frame)
            fitted.append(forecaster)
            continue
        forecaster = StatisticalForecaster(model_id, panel.season_length, panel.frequency.alias)
        # One fit of each window, a little longer each: the final fit costs about one window's.
        expected = results[model_id].fit_seconds / len(results[model_id].forecasts) * 1.2
        if model_id in FITTED_ONCE:
            forecaster.fitted = results[model_id].fitted
            notes[model_id] = (
                "serves with the parameters fitted at the earliest backtest origin, applied to all the data (as in "
                "its backtest: refitting AutoARIMA would cost as much again)"
            )
        elif expected > budget.remaining:
            forecaster.fitted = results[model_id].fitted
            notes[model_id] = (
                f"serves with the parameters fitted at the latest backtest origin: refitting on all the data would "
                f"take about {expected:.0f} s, more than the {budget.remaining:.0f} s left of the time budget"
            )
        else:
            forecaster.fit(panel.frame, runner.map, runner.chunks)
            if forecaster.fallbacks:
                notes[model_id] = f"fell back to seasonal naive on {forecaster.fallbacks} series where it failed to fit"
        fitted.append(forecaster)
    return fitted, notes


def _served_model(
    panel: Panel,
    chosen: str,
    members: list[Any],
    nonnegative: bool,
    widths: dict[int, np.ndarray],
    coverage: dict[int, float | None],
    backtest: Backtest,
    chosen_values: np.ndarray,
) -> ForecastModel:
    history = panel.frame
    known_future = panel.known_future if any(m.uses_known_future for m in members) else []
    scales = interval_scales(history, panel.season_length).sort_index().to_numpy()
    precomputed: list[np.ndarray | None] = []
    for member in members:
        if member.uses_known_future:
            precomputed.append(None)
            continue
        answer = member.forecast(history, panel.horizon)
        table = np.empty((len(panel.series), panel.horizon))
        table[answer[ID].to_numpy(), answer["step"].to_numpy() - 1] = answer[FORECAST].to_numpy()
        precomputed.append(table)
    points = backtest.points
    backtest_rows = pd.DataFrame(
        {
            "window": points["window"].to_numpy(),
            "origin": points["origin"].to_numpy(),
            ID: points[ID].to_numpy(),
            DS: points[DS].to_numpy(),
            "actual": points[Y].to_numpy(),
            "forecast": chosen_values,
        }
    )
    return ForecastModel(
        algorithm=chosen,
        name=candidate_name(chosen),
        members=members,
        target=panel.target,
        date_column=panel.date_column,
        series_columns=list(panel.series_columns),
        frequency=panel.frequency.alias,
        season_length=panel.season_length,
        horizon=panel.horizon,
        known_future=list(known_future),
        date_formats=panel.date_formats,
        missing_periods=panel.missing_periods,
        nonnegative=nonnegative,
        series=panel.series,
        history=history,
        scales=scales,
        widths=widths,
        interval_coverage={str(level): value for level, value in coverage.items()},
        backtest=backtest_rows,
        precomputed=precomputed,
    )


def _leaderboard(
    scores: dict[str, dict[str, float | None]],
    results: dict[str, CandidateBacktest],
    skipped: dict[str, str],
    eligible: list[str],
    chosen: str,
    metric: str,
    members: list[str],
    members_note: str | None,
    final_notes: dict[str, str],
    choice: RegressorChoice | None,
) -> list[dict[str, Any]]:
    reference = scores[REFERENCE][metric]
    rows = []
    for model_id, metrics in scores.items():
        reason = None
        if model_id == chosen:
            reason = "serves: the best backtest score"
            if model_id == ENSEMBLE:
                reason += f" (the average of {', '.join(members)}; {members_note})"
            elif model_id == REFERENCE:
                reason = "serves: no candidate beat seasonal naive in the backtest"
        elif model_id == REFERENCE:
            reason = "the reference every served forecast must beat"
        elif model_id not in eligible:
            shown = "undefined" if metrics[metric] is None else f"{metrics[metric]:.4g}"
            reason = f"never serves: loses to seasonal naive in the backtest ({metric} {shown} vs {reference:.4g})"
        notes = [final_notes[model_id]] if model_id in final_notes else []
        if model_id in results and results[model_id].note and model_id not in final_notes:
            notes.append(results[model_id].note)
        if choice is not None and model_id == choice.chosen and len(choice.table) > 1:
            notes.append(
                "regressor chosen by PyCaret compare_models among " + ", ".join(r["model"] for r in choice.table)
            )
        rows.append(
            {
                "model": model_id,
                "name": candidate_name(model_id),
                **{m: metrics[m] for m in METRICS},
                "fit_seconds": round(results[model_id].fit_seconds, 3) if model_id in results else None,
                "reason": "; ".join([reason, *notes]) if reason else ("; ".join(notes) or None),
            }
        )
    rows.sort(key=lambda r: (r[metric] is None, r[metric] if r[metric] is not None else 0.0))
    for model_id, why in skipped.items():
        rows.append(
            {
                "model": model_id,
                "name": candidate_name(model_id),
                **dict.fromkeys(METRICS),
                "fit_seconds": None,
                "reason": why,
            }
        )
    return rows
