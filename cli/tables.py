"""Plain-text tables of the API's objects (projects, runs, leaderboards, models) for the terminal."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

METRICS = ("MAE", "MSE", "RMSE", "R2", "RMSLE", "MAPE")


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


def leaderboard_table(leaderboard: Sequence[dict]) -> str:
    rows = [
        [entry.get("model"), entry.get("name"), *(entry.get(m) for m in METRICS), entry.get("fit_seconds")]
        for entry in leaderboard
    ]
    return format_table(["model", "name", *METRICS, "fit s"], rows)


def projects_table(projects: Sequence[dict]) -> str:
    rows = [
        [p.get("id"), p.get("name"), p.get("target"), p.get("status"), p.get("active_model"), p.get("latest_dataset")]
        for p in projects
    ]
    return format_table(["id", "name", "target", "status", "active model", "latest dataset"], rows)


def runs_table(runs: Sequence[dict]) -> str:
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
    return format_table(["id", "status", "stage", "progress", "created (UTC)", "best model", "model version"], rows)


def models_table(models: Sequence[dict]) -> str:
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
    return format_table(["version", "algorithm", "active", "created (UTC)", "cv R2", "holdout R2", "holdout MAE"], rows)


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
