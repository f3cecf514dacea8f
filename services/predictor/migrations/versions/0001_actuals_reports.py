"""actuals reports

What really sold, scored against the model that served it: accuracy against the model's own validation error,
each feature's drift from its training distribution, and whether to retrain. Ids are never reused (AUTOINCREMENT on
SQLite).

Revision ID: 0001
Revises:
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "actuals_reports",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("model_version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.Column("validation", sa.JSON(), nullable=False),
        sa.Column("drift", sa.JSON(), nullable=False),
        sa.Column("recommendation", sa.JSON(), nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_actuals_reports_project_created", "actuals_reports", ["project_id", "created_at"])
    op.create_index("ix_actuals_reports_owner_id", "actuals_reports", ["owner_id"])


def downgrade() -> None:
    op.drop_table("actuals_reports")
