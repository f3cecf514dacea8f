"""Tables owned by the predictor service: the reports of actuals scored against a model."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Index, Integer
from sqlalchemy.orm import Mapped, mapped_column

from shared.clock import utcnow
from shared.db import db


class ActualsReport(db.Model):
    """What really sold, scored against the model that served: accuracy, drift and a recommendation."""

    __tablename__ = "actuals_reports"
    __table_args__ = (
        Index("ix_actuals_reports_project_created", "project_id", "created_at"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(Integer)
    owner_id: Mapped[int] = mapped_column(Integer, index=True)
    model_version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    rows: Mapped[int] = mapped_column(Integer)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON)
    validation: Mapped[dict[str, Any]] = mapped_column(JSON)
    drift: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    recommendation: Mapped[dict[str, Any]] = mapped_column(JSON)
