"""The API's objects (projects, datasets, runs, leaderboards, models, records, explanations, actuals reports) as
tables: plain text for the terminal, or CSV rows (`--csv`) with the same columns."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

METRICS = ("MAE", "MSE", "RMSE", "R2", "RMSLE", "MAPE")
FORECAST_METRICS = ("MASE", "MAE", "RMSE", "WAPE", "SMAPE")
ACTUALS_METRICS = ("MAE", "RMSE", "WAPE", "bias", "coverage_80", "coverage_95")
METRIC_SPLITS = ("cv", "holdout", "backtest")
POINT_VALUES = ("prediction", "revenue")
IMPORTANCE_BAR_WIDTH = 30
CATEGORIES_SHOWN = 5


@dataclass(frozen=True)
class Table:
    headers: list[str]
    rows: list[list[Any]]

    def text(self) -> str:
        return format_table(self.headers, self.rows)

    def csv(self) -> str:
        """The header and the rows as CSV; values as they are (no rounding), empty for none."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(self.headers)
        writer.writerows(self.rows)
        return buffer.getvalue()


def format_value(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.1f}" if abs(value) >= 1000 else f"{value:.4f}"
    return str(value)


def format_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Columns padded to their widest cell; numbers right-aligned, text left-aligned."""
    cells = [[format_value(value) for value in row] for row in rows]
    widths = [max([len(header)] + [len(row[i]) for row in cells]) for i, header in enumerate(headers)]
    numeric = [bool(rows) and all(_is_number(row[i]) or row[i] is None for row in rows) for i in range(len(headers))]

    def line(values: Sequence[str]) -> str:
        padded = [v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric, strict=True)]
        return "  ".join(padded).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(row) for row in cells)])


def leaderboard_table(leaderboard: Sequence[dict], task: str = "regression") -> Table:
    """The candidates, best first: cross-validation scores (regression) or backtest scores and why each serves or
    never does (forecast)."""
    metrics = FORECAST_METRICS if task == "forecast" else METRICS
    reasons = ["reason"] if any(entry.get("reason") for entry in leaderboard) else []
    rows = [
        [
            entry.get("model"),
            entry.get("name"),
            *(entry.get(m) for m in metrics),
            entry.get("fit_seconds"),
            *(entry.get(r) for r in reasons),
        ]
        for entry in leaderboard
    ]
    return Table(["model", "name", *metrics, "fit s", *reasons], rows)


def run_task(run: dict) -> str:
    return (run.get("params") or {}).get("task") or "regression"


def activation_text(activation: dict) -> str:
    """`serves: the project had no serving model` or `does not serve: it does not beat …`: a run's decision."""
    serves = "serves" if activation.get("decision") == "activated" else "does not serve"
    return f"{serves}: {activation.get('reason')}"


def projects_table(projects: Sequence[dict]) -> Table:
    rows = [
        [p.get("id"), p.get("name"), p.get("target"), p.get("status"), p.get("active_model"), p.get("latest_dataset")]
        for p in projects
    ]
    return Table(["id", "name", "target", "status", "active model", "latest dataset"], rows)


def datasets_table(datasets: Sequence[dict]) -> Table:
    rows = [
        [
            d.get("id"),
            d.get("filename"),
            d.get("rows"),
            len(d.get("columns") or []),
            d.get("size_bytes"),
            _timestamp(d.get("created_at")),
        ]
        for d in datasets
    ]
    return Table(["id", "filename", "rows", "columns", "bytes", "created (UTC)"], rows)


def records_table(records: Sequence[dict], columns: Sequence[str] = (), last: str | None = None) -> Table:
    """One row per record: `columns` first, then any other key in order of appearance, then `last` (as
    `prediction` after the features, even when the records do not all have the same keys)."""
    names = dict.fromkeys([*columns, *(name for record in records for name in record)])
    headers = [name for name in names if name != last] + ([last] if last is not None else [])
    return Table(headers, [[record.get(name) for name in headers] for record in records])


def runs_table(runs: Sequence[dict]) -> Table:
    rows = [
        [
            r.get("id"),
            r.get("status"),
            r.get("stage"),
            _percent(r.get("progress")),
            _timestamp(r.get("created_at")),
            _best_model(r),
            r.get("model_version"),
        ]
        for r in runs
    ]
    return Table(["id", "status", "stage", "progress", "created (UTC)", "best model", "model version"], rows)


def models_table(models: Sequence[dict]) -> Table:
    rows = [
        [
            m.get("version"),
            m.get("algorithm"),
            "*" if m.get("active") else "",
            _timestamp(m.get("created_at")),
            _metric(m, "cv", "R2"),
            _metric(m, "holdout", "R2"),
            _metric(m, "holdout", "MAE"),
            _metric(m, "backtest", "MASE"),
        ]
        for m in models
    ]
    headers = ["version", "algorithm", "active", "created (UTC)", "cv R2", "holdout R2", "holdout MAE", "backtest MASE"]
    return Table(headers, rows)


def features_table(model: dict) -> Table:
    """The model's input columns: type, the values seen in training (categories, or a range), the model's own
    importance and the permutation importance (holdout MAE increase, in target units)."""
    importance = _by_feature(model.get("feature_importance"))
    permutation = _by_feature(model.get("permutation_importance"))
    rows = [
        [
            f.get("name"),
            f.get("dtype"),
            f.get("min"),
            f.get("max"),
            " | ".join(f["categories"]) if f.get("categories") is not None else None,
            importance.get(f.get("name")),
            permutation.get(f.get("name")),
        ]
        for f in model.get("features") or []
    ]
    return Table(["feature", "dtype", "min", "max", "categories", "importance", "permutation importance"], rows)


def model_text(model: dict) -> str:
    """One model version: what it is, its metrics, the features it expects and their importance, ranked."""
    active = " (active: it serves predictions)" if model.get("active") else ""
    lines = [
        f"model version {model.get('version')}{active}",
        f"{model.get('task') or 'regression'} model {model.get('algorithm')}, target {model.get('target')}, "
        f"trained by run {model.get('training_run_id')} at {_timestamp(model.get('created_at'))} UTC",
    ]
    if model.get("forecast"):
        lines += _forecast_lines(model["forecast"])
    lines += ["", metrics_table(model).text()]
    if model.get("features"):
        lines += ["", _feature_summary_table(model).text()]
    permutation = model.get("permutation_importance") or []
    importance = model.get("feature_importance") or []
    if permutation:
        lines += [
            "",
            f"feature importance (bars: how much the holdout MAE grows, in {model.get('target')}, when the column is "
            "shuffled; then the model's own)",
            importance_bars(permutation, beside=_by_feature(importance)),
        ]
    elif importance:
        lines += ["", "feature importance", importance_bars(importance)]
    return "\n".join(lines)


def _forecast_lines(forecast: dict) -> list[str]:
    series = ", ".join(forecast.get("series_columns") or []) or "none (one series)"
    known_future = ", ".join(forecast.get("known_future") or []) or "none"
    coverage = {level: _percent(value) or "-" for level, value in (forecast.get("interval_coverage") or {}).items()}
    return [
        f"forecasts {forecast.get('horizon')} periods ({forecast.get('frequency')}) of {forecast.get('series_count')} "
        f"series after their last dates; date column {forecast.get('date_column')}, series columns {series}",
        f"known-future columns: {known_future}; in the backtest, {coverage.get('80', '-')} of the actuals fell in "
        f"the 80% interval and {coverage.get('95', '-')} in the 95% one",
    ]


def metrics_table(model: dict) -> Table:
    """The model's metrics, one row per metric (the usual ones first, then any other it has) and one column per split
    it was measured on (cv and holdout for a regression, backtest for a forecast)."""
    metrics = model.get("metrics") or {}
    splits = [split for split in METRIC_SPLITS if split in metrics] or ["cv", "holdout"]
    present = dict.fromkeys(name for split in splits for name in metrics.get(split) or {})
    usual = [*METRICS, *(name for name in FORECAST_METRICS if name not in METRICS)]
    names = [name for name in usual if name in present] + [name for name in present if name not in usual]
    rows = [[name, *((metrics.get(split) or {}).get(name) for split in splits)] for name in names]
    return Table(["metric", *splits], rows)


def best_point_text(best: dict) -> str:
    """`best revenue at price = 190.0000: prediction 92.1000, revenue 17,499.0`."""
    varied = ", ".join(f"{name} = {format_value(value)}" for name, value in best.items() if name not in POINT_VALUES)
    return (
        f"best revenue at {varied}: prediction {format_value(best.get('prediction'))}, "
        f"revenue {format_value(best.get('revenue'))}"
    )


def explanation_text(explanation: dict) -> str:
    """The baseline, each feature's effect (largest first, as the API orders them) and the summary sentence."""
    rows = [[entry.get("feature"), entry.get("value"), entry.get("effect")] for entry in explanation["contributions"]]
    return "\n".join(
        [
            f"baseline (the average prediction over training rows): {format_value(explanation.get('baseline'))}",
            Table(["feature", "value", "effect"], rows).text(),
            str(explanation.get("summary")),
        ]
    )


def explained_rows_table(rows: Sequence[dict], explanations: Sequence[dict]) -> Table:
    """One row per prediction: its features, `prediction`, `baseline` and one `effect of <feature>` column each."""
    records = [
        {
            **{name: value for name, value in row.items() if name != "prediction"},
            "prediction": row.get("prediction"),
            "baseline": explanation.get("baseline"),
            **{f"effect of {entry['feature']}": entry.get("effect") for entry in explanation["contributions"]},
        }
        for row, explanation in zip(rows, explanations, strict=True)
    ]
    return records_table(records)


def actuals_table(reports: Sequence[dict]) -> Table:
    rows = [
        [
            r.get("id"),
            _timestamp(r.get("created_at")),
            r.get("model_version"),
            r.get("rows"),
            (r.get("metrics") or {}).get("MAE"),
            (r.get("validation") or {}).get("MAE"),
            (r.get("recommendation") or {}).get("retrain"),
        ]
        for r in reports
    ]
    return Table(["id", "created (UTC)", "model version", "rows", "MAE", "validation MAE", "retrain"], rows)


def actuals_metrics_table(report: dict) -> Table:
    """The serving model's errors on the actuals beside its own validation errors (holdout or backtest)."""
    metrics, validation = report.get("metrics") or {}, report.get("validation") or {}
    names = [name for name in ACTUALS_METRICS if metrics.get(name) is not None or validation.get(name) is not None]
    rows = [[name, metrics.get(name), validation.get(name)] for name in names]
    return Table(["metric", "actuals", "validation"], rows)


def actuals_text(report: dict) -> str:
    """An actuals report: the errors beside validation, each feature's drift, and the recommendation."""
    lines = [
        f"actuals report {report.get('id')}: {report.get('rows')} rows scored by model version "
        f"{report.get('model_version')} at {_timestamp(report.get('created_at'))} UTC",
        "",
        actuals_metrics_table(report).text(),
    ]
    drift = report.get("drift") or []
    if drift:
        rows = [[entry.get("feature"), entry.get("psi"), entry.get("level")] for entry in drift]
        lines += ["", "drift against the training data (population stability index)"]
        lines += [Table(["feature", "psi", "drift"], rows).text()]
    lines += ["", f"recommendation: {(report.get('recommendation') or {}).get('reason')}"]
    return "\n".join(lines)


def _feature_summary_table(model: dict) -> Table:
    rows = [[f.get("name"), f.get("dtype"), _seen_values(f)] for f in model.get("features") or []]
    return Table(["feature", "dtype", "seen in training"], rows)


def _seen_values(feature: dict) -> str | None:
    categories = feature.get("categories")
    if categories is not None:
        shown = ", ".join(categories[:CATEGORIES_SHOWN])
        more = len(categories) - CATEGORIES_SHOWN
        return f"{shown}, and {more} more" if more > 0 else shown
    if feature.get("min") is not None or feature.get("max") is not None:
        return f"{_short_number(feature.get('min'))} to {_short_number(feature.get('max'))}"
    return None


def importance_bars(
    importance: Sequence[dict], width: int = IMPORTANCE_BAR_WIDTH, beside: dict[str, Any] | None = None
) -> str:
    """`price      ##############################  0.6213`, largest first, bars relative to the largest; with
    `beside`, each feature's value there follows (`-` for none)."""
    ranked = sorted(importance, key=lambda entry: entry.get("importance") or 0.0, reverse=True)
    largest = max((entry.get("importance") or 0.0 for entry in ranked), default=0.0)
    name_width = max((len(str(entry.get("feature"))) for entry in ranked), default=0)
    shown = [format_value(entry.get("importance") or 0.0) for entry in ranked]
    value_width = max((len(text) for text in shown), default=0)
    lines = []
    for entry, text in zip(ranked, shown, strict=True):
        value = entry.get("importance") or 0.0
        bar = "#" * (round(width * value / largest) if largest > 0 else 0)
        line = f"{str(entry.get('feature')).ljust(name_width)}  {bar.ljust(width)}  {text.rjust(value_width)}"
        if beside is not None:
            line += f"  {format_value(beside.get(entry.get('feature')))}"
        lines.append(line)
    return "\n".join(lines)


def _by_feature(importance: Sequence[dict] | None) -> dict[str, Any]:
    return {entry.get("feature"): entry.get("importance") for entry in importance or []}


def _short_number(value: Any) -> str:
    """`0.0` → `0`, `349.87` → `349.87`: six significant digits, no trailing zeros."""
    return f"{value:g}" if isinstance(value, float) else format_value(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _timestamp(value: Any) -> Any:
    """`2026-11-30T10:35:46.220510+00:00` → `2026-11-30 10:35:46` (the server's clock, UTC)."""
    return value[:19].replace("T", " ") if isinstance(value, str) else value


def _percent(progress: Any) -> str | None:
    return f"{float(progress) * 100:.0f}%" if _is_number(progress) else None


def _best_model(run: dict) -> str | None:
    leaderboard = run.get("leaderboard") or []
    return leaderboard[0].get("model") if leaderboard else None


def _metric(model: dict, split: str, name: str) -> Any:
    return ((model.get("metrics") or {}).get(split) or {}).get(name)
