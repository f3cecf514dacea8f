"""Section 6: the platform's default forecast, trained and asked through the gateway, against seasonal naive and the
statsforecast reference methods, on the shared datasets' last periods (``bench.forecast_accuracy`` says which).

Each dataset's rows before its held-out periods are uploaded as a user would upload them, trained with
``"task": "forecast"`` and the dataset's series, horizon and known-future columns (nothing else: every candidate, 3
backtest windows, MASE), and then asked ``POST /forecast`` with the held-out periods' known-future values. The
references are fitted in this process on the same training rows. The training worker runs with
``TRAINING_THREADS=2`` here (the machine's two cores).
"""

from __future__ import annotations

import statistics
from typing import Any

import pandas as pd
import requests

from bench.forecast_accuracy import (
    Dataset,
    figure,
    held_out,
    keyed_by_series,
    metric_of,
    real_datasets,
    references,
    timed_ms,
)
from bench.report import SECTIONS, Report, Row, number, verdict
from bench.session import Session, create_project_with, train_through_platform
from shared.forecasting.dates import parse_dates
from shared.forecasting.panel import DS, ID, Y, prepare_panel

FORECASTING = SECTIONS[5]
TRAINING_TIMEOUT_S = 1800
FORECAST_REPEATS = 5
COVERAGE_80 = (0.70, 0.90)
MAX_TRAIN_SECONDS = {"Walmart, 45 stores": 120, "Stallion, 350 agency×SKU": 300}
MAX_STALLION_FORECAST_MS = 1000


def measure_forecasting(session: Session, report: Report) -> None:
    session.platform.restart("worker", TRAINING_THREADS=2)
    covered = {80: [0, 0], 95: [0, 0]}
    try:
        for dataset in real_datasets():
            _measure_dataset(session, report, dataset, covered)
    finally:
        session.platform.restart("worker")
    low, high = COVERAGE_80
    share = {level: inside / total for level, (inside, total) in covered.items()}
    report.add(
        Row(
            FORECASTING,
            f"80% / 95% intervals: share of all {covered[80][1]:,} held-out points inside",
            f"{100 * share[80]:.1f}% / {100 * share[95]:.1f}% of points",
            "",
            "",
            f"80% intervals cover {100 * low:.0f}–{100 * high:.0f}%",
            verdict(low <= share[80] <= high),
        )
    )


def _measure_dataset(session: Session, report: Report, dataset: Dataset, covered: dict[int, list[int]]) -> None:
    training, full_panel, test = held_out(dataset, "test")
    spec = dataset.spec
    project_id = create_project_with(session, dataset.name.split(",")[0], spec.target, training)
    body = {
        "task": "forecast",
        "series_columns": list(spec.series_columns),
        "horizon": full_panel.horizon,
        "known_future": list(spec.known_future),
    }
    run = train_through_platform(session, project_id, body, TRAINING_TIMEOUT_S)
    chosen = run["leaderboard"][0]["model"] if run["leaderboard"] else "?"

    request = {"future": _future_rows(dataset, full_panel, test)} if spec.known_future else {}
    url = f"{session.platform.gateway_url}/api/v1/projects/{project_id}/forecast"
    http = requests.Session()
    answer = _ask(http, url, request, session.auth)
    forecast_ms = statistics.median(
        timed_ms(lambda: _ask(http, url, request, session.auth)) for _ in range(FORECAST_REPEATS)
    )
    http.close()

    scored = test.merge(keyed_by_series(answer, full_panel), on=[ID, DS], how="left")
    if scored["forecast"].isna().any():
        raise RuntimeError(f"{dataset.name}: the forecast lacks {int(scored['forecast'].isna().sum())} points")
    actual = scored[Y].to_numpy()
    platform = metric_of(dataset.metric, actual, scored["forecast"].to_numpy())
    reference = references(dataset, prepare_panel(training, spec), full_panel.horizon)
    reference = reference.merge(test[[ID, DS, Y]], on=[ID, DS], how="inner")
    scores = {name: metric_of(dataset.metric, reference[Y].to_numpy(), reference[name].to_numpy()) for name in
              dataset.references}  # fmt: skip
    snaive = scores["SeasonalNaive"]
    best_name = min((name for name in scores if name != "SeasonalNaive"), key=scores.__getitem__)
    inside = {}
    for level in (80, 95):
        hits = (actual >= scored[f"lower_{level}"].to_numpy()) & (actual <= scored[f"upper_{level}"].to_numpy())
        covered[level][0] += int(hits.sum())
        covered[level][1] += len(hits)
        inside[level] = float(hits.mean())
    met = dataset.target is not None and platform <= dataset.target and platform <= snaive
    report.add(
        Row(
            FORECASTING,
            f"{dataset.name}, {full_panel.horizon} periods held out: {dataset.metric} of the platform's default "
            f"(`{chosen}`)",
            figure(platform, dataset.metric),
            f"seasonal naive {figure(snaive, dataset.metric)}; best reference {best_name} "
            f"{figure(scores[best_name], dataset.metric)}; "
            + ", ".join(f"{name} {figure(value, dataset.metric)}" for name, value in scores.items()
                        if name not in ("SeasonalNaive", best_name)),
            f"{platform / snaive:.2f}× seasonal naive, {platform / scores[best_name]:.2f}× best reference",
            f"{dataset.metric} ≤ {figure(dataset.target, dataset.metric)} and ≤ seasonal naive",
            verdict(met),
        )
    )  # fmt: skip
    limit = MAX_TRAIN_SECONDS.get(dataset.name)
    report.add(
        Row(
            FORECASTING,
            f"{dataset.name}: POST /train → succeeded ({len(run['leaderboard'])} candidates); 80% / 95% coverage "
            f"{100 * inside[80]:.0f}% / {100 * inside[95]:.0f}%",
            f"{number(run['wall_seconds'])} s",
            "",
            "",
            f"under {limit} s" if limit else "",
            verdict(run["wall_seconds"] < limit) if limit else "",
        )
    )
    is_stallion = dataset.name.startswith("Stallion")
    report.add(
        Row(
            FORECASTING,
            f"{dataset.name}: POST /forecast of every series ({full_panel.series.shape[0]}) for "
            f"{full_panel.horizon} periods through the gateway (median of {FORECAST_REPEATS})",
            f"{number(forecast_ms)} ms",
            "",
            "",
            f"under {MAX_STALLION_FORECAST_MS} ms" if is_stallion else "",
            verdict(forecast_ms < MAX_STALLION_FORECAST_MS) if is_stallion else "",
        )
    )


def _future_rows(dataset: Dataset, panel: Any, test: pd.DataFrame) -> list[dict[str, Any]]:
    """The held-out periods' known-future values as a user sends them: the series columns, the date written as in
    the file, and the known-future columns (planned prices, holidays: known ahead), one row per series and date."""
    raw = dataset.load()
    written = dict(zip(parse_dates(raw[panel.date_column]).values, raw[panel.date_column], strict=True))
    rows = panel.series.loc[test[ID].to_numpy()].reset_index(drop=True)
    rows[panel.date_column] = [_as_json(written[date]) for date in test[DS]]
    for column in panel.known_future:
        rows[column] = test[column].to_numpy()
    return rows.to_dict("records")


def _as_json(date: Any) -> Any:
    """A date as a JSON body carries it: timestamps (a parquet file's dates) as ISO text, text as written."""
    return date.isoformat() if isinstance(date, pd.Timestamp) else date


def _ask(http: requests.Session, url: str, body: dict[str, Any], auth: dict[str, str]) -> pd.DataFrame:
    answer = http.post(url, json=body, headers=auth, timeout=600)
    if answer.status_code != 200:
        raise RuntimeError(f"forecast answered {answer.status_code}: {answer.text[:500]}")
    return pd.DataFrame(answer.json()["forecasts"])
