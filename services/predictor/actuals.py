"""Is the model still right now that the actuals are in? What really sold, scored by the serving model.

The report compares the error on the actuals with the model's own validation error (its run's holdout), measures
each feature's drift from its training distribution (population stability index, ``shared.drift``), and recommends
retraining when the error grew by more than ``tolerance`` or a feature drifted a lot.
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
from shared.drift import PSI_MAJOR, drift_level, population_stability_index
from shared.regression_metrics import regression_scores

REPORTED_METRICS = ("MAE", "RMSE", "WAPE", "bias")


class ActualsReportNotFound(DomainError):
    message = "Actuals report not found."


def accuracy_report(
    actual: np.ndarray,
    predicted: np.ndarray,
    features: pd.DataFrame,
    validation: Mapping[str, Any],
    training_profile: Mapping[str, Any],
    tolerance: float,
) -> dict[str, Any]:
    """Metrics, the validation metrics beside them, drift per feature, and the recommendation."""
    scores = regression_scores(actual, predicted)
    metrics = {name: scores[name] for name in REPORTED_METRICS}
    validation = {name: validation.get(name) for name in REPORTED_METRICS}
    profiles = training_profile.get("features", {})
    drift = []
    for name, profile in profiles.items():
        if name not in features.columns:
            continue
        psi = population_stability_index(profile, features[name])
        drift.append({"feature": name, "psi": psi, "level": drift_level(psi)})
    drift.sort(key=lambda entry: -1.0 if entry["psi"] is None else entry["psi"], reverse=True)
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
