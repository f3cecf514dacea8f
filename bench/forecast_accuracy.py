"""``python -m bench.forecast_accuracy [--quick] [--split test|dev] [--only NAME]``: the forecasting engine's default
forecast against seasonal naive and the reference methods, on the shared datasets, in one run.

For each dataset the last ``horizon`` periods are held out. The platform's default forecast is ``train_forecaster``
with the dataset's settings below and nothing else (every candidate, 3 backtest windows, MASE, the default time
budget): it chooses its model by its own backtest on the training part and never sees the held-out periods. The
references are statsforecast 2.1.1 models with their defaults, fitted right here on the same long frame the engine
trains on; "best reference" is the best single method in hindsight, which the platform does not get to pick.

Settings per dataset (what a user would name; known-future columns only where a user knows their future values):
- Walmart: ``Weekly_Sales`` by ``Store``, 26 weeks; known future: ``Holiday_Flag`` (holiday weeks are on the calendar;
  temperature, fuel price, CPI and unemployment are not known ahead, so they are left out). Metric MAE.
- US retail: ``y``, 24 months (one 24-step forecast, not rolling). Metric MAPE.
- Stallion: ``volume`` by ``agency`` and ``sku``, 6 months; known future: ``price_actual`` and
  ``discount_in_percent`` (the price and promotion a brewer plans ahead). Metric MAE.
- Online Retail: ``y`` by ``item``, 28 days, on a full daily calendar (missing days are 0, the engine's default).
  Metric WAPE.

``--split dev`` holds out the ``horizon`` periods before those instead (and trains on what precedes them): the
split to iterate on, so that the reported figures come from periods no design decision was tuned on. ``--quick``
runs on generated data in well under a minute (a smoke test of the harness). The markdown table goes to stdout, each
training's phases and leaderboard to stderr. Train times are wall-clock seconds on this (shared) machine, with the
CPU seconds of the process and its fit workers beside them.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from harness.datasets import datasets_dir
from shared.forecasting.metrics import mean_absolute_percentage_error
from shared.forecasting.panel import DS, ID, ForecastSpec, Panel, Y, prepare_panel

DATASETS_DIR = datasets_dir()
THREADS = 2
SPLITS = {"test": "hold-out: the last periods", "dev": "development split: the horizon before the hold-out"}
FORECAST_REPEATS = 5


@dataclass(frozen=True)
class Dataset:
    name: str
    load: Callable[[], pd.DataFrame]
    spec: ForecastSpec
    metric: str  # MAE, MAPE or WAPE
    references: tuple[str, ...]  # statsforecast model names computed as references
    target: float | None  # the platform's target for the metric
    include: tuple[str, ...] | None = None  # only for --quick


@dataclass
class Outcome:
    dataset: Dataset
    scores: dict[str, float]  # method → metric on the held-out periods
    chosen: str
    coverage: dict[int, float]
    covered_points: dict[int, tuple[int, int]]
    train_seconds: float
    train_cpu_seconds: float  # this process and its finished children (the forked fit workers)
    forecast_all_ms: float
    forecast_one_ms: float
    backtest_top: list[dict[str, Any]] = field(default_factory=list)


def real_datasets() -> list[Dataset]:
    def csv(name: str) -> Callable[[], pd.DataFrame]:
        return lambda: pd.read_csv(DATASETS_DIR / name)

    return [
        Dataset(
            "Walmart, 45 stores",
            csv("walmart_45stores_weekly.csv"),
            ForecastSpec("Weekly_Sales", series_columns=("Store",), horizon=26, known_future=("Holiday_Flag",)),
            "MAE",
            ("SeasonalNaive", "AutoETS", "AutoARIMA", "AutoTheta"),
            41_000,
        ),
        Dataset(
            "US retail, monthly",
            csv("us_retail_sales_monthly.csv"),
            ForecastSpec("y", horizon=24),
            "MAPE",
            ("SeasonalNaive", "AutoETS", "AutoARIMA", "AutoTheta"),
            1.0,
        ),
        Dataset(
            "Stallion, 350 agency×SKU",
            lambda: pd.read_parquet(DATASETS_DIR / "stallion_beverage_demand.parquet"),
            ForecastSpec(
                "volume",
                series_columns=("agency", "sku"),
                horizon=6,
                known_future=("price_actual", "discount_in_percent"),
            ),
            "MAE",
            ("SeasonalNaive", "Naive", "AutoETS", "AutoTheta"),
            250,
        ),
        Dataset(
            "Online Retail, 30 items, daily",
            csv("uci_online_retail_top30_daily.csv"),
            ForecastSpec("y", series_columns=("item",), horizon=28),
            "WAPE",
            ("SeasonalNaive", "AutoETS", "AutoTheta"),
            80.0,
        ),
    ]


def quick_datasets() -> list[Dataset]:
    def weekly() -> pd.DataFrame:
        rng = np.random.default_rng(1)
        dates = pd.date_range("2020-01-03", periods=130, freq="W-FRI")
        t = np.arange(len(dates))
        frames = []
        for store in range(5):
            level = 200.0 * (store + 1)
            promo = (rng.random(len(t)) < 0.2).astype(int)
            sales = level * (1 + 0.003 * t + 0.25 * np.sin(2 * np.pi * t / 52) + 0.3 * promo) + rng.normal(0, 8, len(t))
            frames.append(
                pd.DataFrame({"store": store, "week": dates.strftime("%d-%m-%Y"), "promo": promo, "sales": sales})
            )
        return pd.concat(frames, ignore_index=True)

    def monthly() -> pd.DataFrame:
        rng = np.random.default_rng(2)
        dates = pd.date_range("2012-01-01", periods=72, freq="MS")
        t = np.arange(len(dates))
        y = 1000 + 8 * t + 120 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 15, len(t))
        return pd.DataFrame({"month": dates.strftime("%Y %b"), "sales": y})

    include = ("naive", "snaive", "mean", "ets", "theta", "ridge", "ensemble")
    return [
        Dataset(
            "generated weekly, 5 stores",
            weekly,
            ForecastSpec("sales", series_columns=("store",), horizon=8, known_future=("promo",)),
            "MAE",
            ("SeasonalNaive", "AutoETS"),
            None,
            include,
        ),
        Dataset(
            "generated monthly, 1 series",
            monthly,
            ForecastSpec("sales", horizon=12),
            "MAPE",
            ("SeasonalNaive", "AutoETS"),
            None,
            include,
        ),
    ]


def held_out(dataset: Dataset, split: str) -> tuple[pd.DataFrame, Panel, pd.DataFrame]:
    """The raw training rows, the full panel and the held-out points (``unique_id``, ``ds``, ``y``) on its grid."""
    raw = dataset.load()
    panel = prepare_panel(raw, dataset.spec)
    horizon = panel.horizon
    grid = np.sort(panel.frame[DS].unique())
    skip = horizon if split == "dev" else 0
    test_start = grid[len(grid) - horizon - skip]
    test_end = grid[len(grid) - 1 - skip]
    dates = pd.Series(panel.frame[DS].to_numpy())
    raw_dates = _raw_dates(raw, panel)
    training = raw[raw_dates.to_numpy() < test_start].reset_index(drop=True)
    test = panel.frame[(dates >= test_start) & (dates <= test_end)][[ID, DS, Y, *panel.known_future]]
    return training, panel, test.reset_index(drop=True)


def _raw_dates(raw: pd.DataFrame, panel: Panel) -> pd.Series:
    from shared.forecasting.dates import parse_dates

    parsed = parse_dates(raw[panel.date_column])
    assert parsed is not None
    return parsed.values


def references(dataset: Dataset, training_panel: Panel, horizon: int) -> pd.DataFrame:
    """The reference methods' forecasts (statsforecast defaults) from the end of the training data."""
    from statsforecast import StatsForecast
    from statsforecast import models as sf_models

    m = training_panel.season_length
    built = []
    for name in dataset.references:
        model_class = getattr(sf_models, name)
        built.append(model_class() if name == "Naive" else model_class(season_length=m))
    engine = StatsForecast(models=built, freq=training_panel.frequency.alias, n_jobs=THREADS)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return engine.forecast(df=training_panel.frame[[ID, DS, Y]], h=horizon)


def metric_of(name: str, actual: np.ndarray, forecast: np.ndarray) -> float:
    if name == "MAE":
        return float(np.mean(np.abs(forecast - actual)))
    if name == "MAPE":
        value = mean_absolute_percentage_error(actual, forecast)
        return float("nan") if value is None else 100 * value
    return float(100 * np.sum(np.abs(forecast - actual)) / np.sum(np.abs(actual)))


def run_dataset(dataset: Dataset, split: str) -> Outcome:
    from services.trainer.forecasting import train_forecaster

    training, full_panel, test = held_out(dataset, split)
    horizon = full_panel.horizon
    started = time.perf_counter()
    cpu_started = _cpu_seconds()
    result = train_forecaster(
        training, dataset.spec, include=list(dataset.include) if dataset.include else None, threads=THREADS
    )
    train_seconds = time.perf_counter() - started
    train_cpu = _cpu_seconds() - cpu_started
    model = result.model
    print(f"  phases: {result.phase_seconds}", file=sys.stderr)
    for row in result.leaderboard:
        print(f"  {row['model']:>9} MASE {row['MASE']} fit {row['fit_seconds']} s: {row['reason']}", file=sys.stderr)

    future = _future_rows(model, full_panel, test)
    answer = model.forecast(future=future)
    for _ in range(2):
        model.forecast(future=future)
    all_ms = statistics.median(timed_ms(lambda: model.forecast(future=future)) for _ in range(FORECAST_REPEATS))
    one_series = [model.series.iloc[0].to_dict()] if model.series_columns else None
    one_ms = statistics.median(
        timed_ms(lambda: model.forecast(series=one_series, future=future)) for _ in range(FORECAST_REPEATS)
    )

    answer = keyed_by_series(answer, model)
    scored = test.merge(answer, on=[ID, DS], how="left")
    missing = scored["forecast"].isna().sum()
    if missing:
        raise RuntimeError(f"{dataset.name}: the platform's forecast lacks {missing} held-out points")
    actual = scored[Y].to_numpy()
    scores = {f"platform ({result.algorithm})": metric_of(dataset.metric, actual, scored["forecast"].to_numpy())}
    training_panel = prepare_panel(training, dataset.spec)
    reference = references(dataset, training_panel, horizon).merge(test[[ID, DS, Y]], on=[ID, DS], how="inner")
    for name in dataset.references:
        scores[name] = metric_of(dataset.metric, reference[Y].to_numpy(), reference[name].to_numpy())
    coverage, covered = {}, {}
    for level in (80, 95):
        inside = (actual >= scored[f"lower_{level}"].to_numpy()) & (actual <= scored[f"upper_{level}"].to_numpy())
        coverage[level] = float(inside.mean())
        covered[level] = (int(inside.sum()), len(inside))
    return Outcome(
        dataset,
        scores,
        result.algorithm,
        coverage,
        covered,
        train_seconds,
        train_cpu,
        all_ms,
        one_ms,
        result.leaderboard[:4],
    )


def _future_rows(model: Any, panel: Panel, test: pd.DataFrame) -> pd.DataFrame | None:
    """The known-future values of the held-out dates, as a user would send them (series and date columns)."""
    if not model.known_future:
        return None
    rows = panel.series.loc[test[ID].to_numpy()].reset_index(drop=True)
    rows[model.date_column] = test[DS].to_numpy()
    for column in model.known_future:
        rows[column] = test[column].to_numpy()
    if model.date_formats is not None:
        rows[model.date_column] = pd.to_datetime(rows[model.date_column]).dt.strftime(model.date_formats[0])
    return rows


def keyed_by_series(answer: pd.DataFrame, holder: Any) -> pd.DataFrame:
    """A forecast answer with the panel's keys added: each row's series id and its date (``holder``, a panel or a
    model, names the date and series columns and holds the series)."""
    answer = answer.assign(**{DS: pd.to_datetime(answer[holder.date_column])})
    if not holder.series_columns:
        return answer.assign(**{ID: holder.series.index[0]})
    return answer.merge(holder.series.reset_index(), on=list(holder.series_columns), how="left")


def _cpu_seconds() -> float:
    import resource

    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def timed_ms(call: Callable[[], Any]) -> float:
    started = time.perf_counter()
    call()
    return 1000 * (time.perf_counter() - started)


def markdown(outcomes: list[Outcome], split: str) -> str:
    lines = [
        f"Forecast accuracy ({SPLITS[split]}; {THREADS} threads)",
        "",
        "| dataset (horizon) | metric | seasonal naive | references (statsforecast defaults) | platform default "
        "(chosen) | target | met | 80% / 95% coverage | train s (CPU s) | forecast all / one series ms |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for outcome in outcomes:
        d = outcome.dataset
        platform_name, platform = next((k, v) for k, v in outcome.scores.items() if k.startswith("platform"))
        snaive = outcome.scores["SeasonalNaive"]
        others = ", ".join(
            f"{k} {figure(v, d.metric)}" for k, v in outcome.scores.items() if k not in (platform_name, "SeasonalNaive")
        )
        met = "—" if d.target is None else ("yes" if platform <= d.target and platform <= snaive else "MISS")
        target = "—" if d.target is None else f"≤ {figure(d.target, d.metric)}"
        lines.append(
            f"| {d.name} ({outcome.dataset.spec.horizon}) | {d.metric} | {figure(snaive, d.metric)} | {others} | "
            f"**{figure(platform, d.metric)}** ({outcome.chosen}) | {target} | {met} | "
            f"{100 * outcome.coverage[80]:.1f}% / {100 * outcome.coverage[95]:.1f}% | {outcome.train_seconds:.0f} "
            f"({outcome.train_cpu_seconds:.0f}) | "
            f"{outcome.forecast_all_ms:.1f} / {outcome.forecast_one_ms:.1f} |"
        )
    inside = {level: sum(o.covered_points[level][0] for o in outcomes) for level in (80, 95)}
    total = sum(o.covered_points[80][1] for o in outcomes)
    lines += [
        "",
        f"Pooled over all datasets: 80% intervals cover {100 * inside[80] / total:.1f}% and 95% intervals "
        f"{100 * inside[95] / total:.1f}% of the {total} held-out points (target for 80%: 70–90%).",
        "",
        "Backtest leaderboards (top 4, the engine's own scores on its training data):",
    ]
    for outcome in outcomes:
        top = "; ".join(
            f"{row['model']} MASE {row['MASE']:.3f}" for row in outcome.backtest_top if row["MASE"] is not None
        )
        lines.append(f"- {outcome.dataset.name}: {top}")
    return "\n".join(lines)


def figure(value: float | None, metric: str) -> str:
    """A metric's value as the tables show it: MAE in units, MAPE and WAPE in percent."""
    if value is None:
        return "—"
    if metric == "MAE":
        return f"{value:,.0f}" if value >= 1000 else f"{value:,.1f}"
    return f"{value:.2f}%"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="generated data only, well under a minute")
    parser.add_argument("--split", choices=("test", "dev"), default="test")
    parser.add_argument("--only", help="run only the datasets whose name contains this text")
    args = parser.parse_args(argv)
    datasets = quick_datasets() if args.quick else real_datasets()
    if args.only:
        datasets = [d for d in datasets if args.only.lower() in d.name.lower()]
    if not args.quick and not DATASETS_DIR.is_dir():
        print(f"the shared datasets are not in {DATASETS_DIR} (set SALESML_DATASETS_DIR)", file=sys.stderr)
        return 2
    warnings.filterwarnings("ignore")
    outcomes = []
    for dataset in datasets:
        outcome = run_dataset(dataset, args.split)
        print(
            f"{dataset.name}: {outcome.scores} chosen {outcome.chosen} in {outcome.train_seconds:.1f} s",
            file=sys.stderr,
            flush=True,
        )
        outcomes.append(outcome)
    print(markdown(outcomes, args.split))
    return 0


if __name__ == "__main__":
    sys.exit(main())
