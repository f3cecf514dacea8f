"""The API's objects (projects, datasets, runs, leaderboards, models, records) as tables: plain text for the
terminal, or CSV rows (`--csv`) with the same columns."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

METRICS = ("MAE", "MSE", "RMSE", "R2", "RMSLE", "MAPE")
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


def leaderboard_table(leaderboard: Sequence[dict]) -> Table:
    rows = [
        [entry.get("model"), entry.get("name"), *(entry.get(m) for m in METRICS), entry.get("fit_seconds")]
        for entry in leaderboard
    ]
    return Table(["model", "name", *METRICS, "fit s"], rows)


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
        ]
        for m in models
    ]
    return Table(["version", "algorithm", "active", "created (UTC)", "cv R2", "holdout R2", "holdout MAE"], rows)


def features_table(model: dict) -> Table:
    """The model's input columns: type, the values seen in training (categories, or a range), importance."""
    importance = {entry.get("feature"): entry.get("importance") for entry in model.get("feature_importance") or []}
    rows = [
        [
            f.get("name"),
            f.get("dtype"),
            f.get("min"),
            f.get("max"),
            " | ".join(f["categories"]) if f.get("categories") is not None else None,
            importance.get(f.get("name")),
        ]
        for f in model.get("features") or []
    ]
    return Table(["feature", "dtype", "min", "max", "categories", "importance"], rows)


def model_text(model: dict) -> str:
    """One model version: what it is, its metrics, the features it expects and their importance, ranked."""
    active = " (active: it serves predictions)" if model.get("active") else ""
    lines = [
        f"model version {model.get('version')}{active}",
        f"algorithm {model.get('algorithm')}, target {model.get('target')}, trained by run "
        f"{model.get('training_run_id')} at {_timestamp(model.get('created_at'))} UTC",
        "",
        metrics_table(model).text(),
        "",
        _feature_summary_table(model).text(),
    ]
    importance = model.get("feature_importance") or []
    if importance:
        lines += ["", "feature importance", importance_bars(importance)]
    return "\n".join(lines)


def metrics_table(model: dict) -> Table:
    metrics = model.get("metrics") or {}
    cv, holdout = metrics.get("cv") or {}, metrics.get("holdout") or {}
    names = [name for name in METRICS if name in cv or name in holdout]
    return Table(["metric", "cv", "holdout"], [[name, cv.get(name), holdout.get(name)] for name in names])


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


def importance_bars(importance: Sequence[dict], width: int = IMPORTANCE_BAR_WIDTH) -> str:
    """`price      ##############################  0.6213`, largest first, bars relative to the largest."""
    ranked = sorted(importance, key=lambda entry: entry.get("importance") or 0.0, reverse=True)
    largest = max((entry.get("importance") or 0.0 for entry in ranked), default=0.0)
    name_width = max((len(str(entry.get("feature"))) for entry in ranked), default=0)
    lines = []
    for entry in ranked:
        value = entry.get("importance") or 0.0
        bar = "#" * (round(width * value / largest) if largest > 0 else 0)
        lines.append(f"{str(entry.get('feature')).ljust(name_width)}  {bar.ljust(width)}  {format_value(value)}")
    return "\n".join(lines)


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
