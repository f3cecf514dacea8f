"""Tables owned by the projects service: users, projects, datasets, auth throttles (and shared.user_tokens'
revocations)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    false,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shared.clock import utcnow
from shared.db import db
from shared.user_tokens import RevokedSession  # noqa: F401 - the projects service migrates this table

# Public ids are never handed out twice (SQLite AUTOINCREMENT; PostgreSQL sequences never go back).
NEVER_REUSED_IDS = {"sqlite_autoincrement": True}


class User(db.Model):
    __tablename__ = "users"
    # One name whatever its case ("Alice" is "alice"); the spelling given at registration is kept.
    __table_args__ = (Index("uq_users_username_lower", func.lower(text("username")), unique=True), NEVER_REUSED_IDS)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64))
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Project(db.Model):
    __tablename__ = "projects"
    __table_args__ = NEVER_REUSED_IDS

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    target: Mapped[str] = mapped_column(String(200), default="sales")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
    # Set before the trainer is asked to delete the project's runs: no run may be created for it from then on.
    deleting: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    datasets: Mapped[list[Dataset]] = relationship(
        back_populates="project", cascade="all, delete-orphan", order_by="Dataset.created_at"
    )


class Dataset(db.Model):
    __tablename__ = "datasets"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=lambda: str(uuid.uuid4()))
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(String(255), default="")
    object_key: Mapped[str] = mapped_column(String(512), unique=True)
    rows: Mapped[int] = mapped_column(BigInteger)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    columns: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    project: Mapped[Project] = relationship(back_populates="datasets")


class AuthThrottle(db.Model):
    """Attempts on one key (services.projects.throttles)."""

    __tablename__ = "auth_throttles"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    attempts: Mapped[int] = mapped_column(Integer)
    # Epoch seconds: the arithmetic in the counting statement is then the same on SQLite and PostgreSQL.
    blocked_until: Mapped[float] = mapped_column(Float)
    next_block_s: Mapped[float] = mapped_column(Float)
    last_attempt_at: Mapped[float] = mapped_column(Float, index=True)
