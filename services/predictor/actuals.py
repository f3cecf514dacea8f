"""Is the model still right now that the actuals are in? What really sold, scored by the serving model.

The report compares the error on the actuals with the model's own validation error (a regression model's holdout, a
forecast model's backtest), measures each feature's drift from its training distribution (population stability
index, ``shared.drift``), and recommends retraining when the error grew by more than ``tolerance`` or a feature
drifted a lot. A forecast model is scored on what it forecast for the actuals' dates, with its intervals' coverage.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import func, select

from services.predictor.models import ActualsReport
from shared.db import db
from shared.domain_errors import DomainError
from shared.drift import PSI_MAJOR, drift_level, population_stability_index, profile_column
from shared.forecasting.model import ForecastModel
from shared.regression_metrics import regression_scores

REPORTED_METRICS = ("MAE", "RMSE", "WAPE", "bias")
INTERVAL_LEVELS = (80, 95)


class ActualsReportNotFound(DomainError):
    message = "Actuals report not found."


def regression_report(
    actual: np.ndarray,
    predicted: np.ndarray,
    features: pd.DataFrame,
    validation: Mapping[str, Any],
    training_profile: Mapping[str, Any],
    tolerance: float,
) -> dict[str, Any]:
    """A regression model on actuals: its metrics, its holdout metrics beside them, drift per feature, and the
    recommendation."""
    validation = {name: validation.get(name) for name in REPORTED_METRICS}
    drift = feature_drift(training_profile.get("features", {}), features)
    return _report(_scores(actual, predicted), validation, drift, tolerance)


def forecast_report(model: ForecastModel, records: pd.DataFrame | list[dict[str, Any]], tolerance: float) -> dict:
    """A forecast model on actuals (series, date, true target): what it forecast for those dates from its training
    data's end, scored; its backtest (the same kind of forecast, on dates it had not seen) as the validation; drift
    of the known-future columns from their training history."""
    points = model.forecast_for(records)
    metrics = {**_scores(points["actual"], points["forecast"]), **_coverage(points)}
    backtest = model.backtest
    validation = {
        **_scores(backtest["actual"], backtest["forecast"]),
        **{f"coverage_{level}": model.interval_coverage.get(str(level)) for level in INTERVAL_LEVELS},
    }
    frame = records if isinstance(records, pd.DataFrame) else pd.DataFrame(records)
    profiles = {column: profile_column(model.history[column]) for column in model.known_future}
    drift = feature_drift({name: profile for name, profile in profiles.items() if profile}, frame)
    return _report(metrics, validation, drift, tolerance)


def feature_drift(profiles: Mapping[str, Any], features: pd.DataFrame) -> list[dict[str, Any]]:
    """PSI and level of every profiled feature the rows carry, most drifted first."""
    drift = []
    for name, profile in profiles.items():
        if name not in features.columns:
            continue
        psi = population_stability_index(profile, features[name])
        drift.append({"feature": name, "psi": psi, "level": drift_level(psi)})
    drift.sort(key=lambda entry: -1.0 if entry["psi"] is None else entry["psi"], reverse=True)
    return drift


def _scores(actual: Any, predicted: Any) -> dict[str, float | None]:
    scores = regression_scores(np.asarray(actual, dtype="float64"), np.asarray(predicted, dtype="float64"))
    return {name: scores[name] for name in REPORTED_METRICS}


def _coverage(points: pd.DataFrame) -> dict[str, float]:
    """The share of actuals inside each interval."""
    actual = points["actual"].to_numpy()
    return {
        f"coverage_{level}": float(
            np.mean((actual >= points[f"lower_{level}"].to_numpy()) & (actual <= points[f"upper_{level}"].to_numpy()))
        )
        for level in INTERVAL_LEVELS
    }


def _report(
    metrics: dict[str, Any], validation: dict[str, Any], drift: list[dict[str, Any]], tolerance: float
) -> dict[str, Any]:
    return {
        "metrics": metrics,
        "validation": validation,
        "drift": drift,
        "recommendation": recommendation(metrics, validation, drift, tolerance),
    }


def recommendation(
    metrics: Mapping[str, Any], validation: Mapping[str, Any], drift: list[dict[str, Any]], tolerance: float
) -> dict[str, Any]:
    """Retrain when the MAE is more than ``tolerance`` above the validation MAE, or a feature drifted a lot."""
    reasons = []
    error, expected = metrics.get("MAE"), validation.get("MAE")
    grew = None
    if error is not None and expected:
        grew = error / expected - 1
        if grew > tolerance:
            reasons.append(f"the error is {grew:.0%} above validation (MAE {error:.4g} against {expected:.4g})")
    drifted = [entry["feature"] for entry in drift if entry["psi"] is not None and entry["psi"] >= PSI_MAJOR]
    if drifted:
        shown = ", ".join(f"`{name}`" for name in drifted[:5])
        reasons.append(f"{shown} drifted from {'its' if len(drifted) == 1 else 'their'} training distribution")
    if reasons:
        return {"retrain": True, "reason": "retrain: " + "; ".join(reasons) + "."}
    if grew is None:
        return {"retrain": False, "reason": "no drift; the model has no validation error to compare with."}
    return {
        "retrain": False,
        "reason": f"keep the model: the error is within {tolerance:.0%} of validation ({grew:+.0%}) and no feature "
        "drifted much.",
    }


def save_report(owner_id: int, project_id: int, model_version: int, rows: int, report: dict[str, Any]) -> ActualsReport:
    stored = ActualsReport(project_id=project_id, owner_id=owner_id, model_version=model_version, rows=rows, **report)
    db.session.add(stored)
    db.session.commit()
    return stored


def list_reports(owner_id: int, project_id: int, offset: int, limit: int) -> tuple[list[ActualsReport], int]:
    where = (ActualsReport.project_id == project_id, ActualsReport.owner_id == owner_id)
    total = db.session.scalar(select(func.count()).select_from(ActualsReport).where(*where)) or 0
    reports = db.session.scalars(
        select(ActualsReport)
        .where(*where)
        .order_by(ActualsReport.created_at.desc(), ActualsReport.id.desc())
        .offset(offset)
        .limit(limit)
    ).all()
    return list(reports), total


def find_report(owner_id: int, project_id: int, report_id: int) -> ActualsReport:
    report = db.session.scalar(
        select(ActualsReport).where(
            ActualsReport.id == report_id, ActualsReport.project_id == project_id, ActualsReport.owner_id == owner_id
        )
    )
    if report is None:
        raise ActualsReportNotFound()
    return report
