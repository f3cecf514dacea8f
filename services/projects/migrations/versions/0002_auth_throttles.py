"""auth throttles: login and registration attempts counted per client address (and username), not per account

Replaces users.failed_logins/locked_until: a stranger's failures lock only their own address out, and an unknown
username is throttled exactly like a known one. Times are epoch seconds (floats), so the one atomic statement that
counts an attempt does its arithmetic the same way on SQLite and PostgreSQL.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "auth_throttles",
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("blocked_until", sa.Float(), nullable=False),
        sa.Column("next_block_s", sa.Float(), nullable=False),
        sa.Column("last_attempt_at", sa.Float(), nullable=False),
    )
    op.create_index("ix_auth_throttles_last_attempt_at", "auth_throttles", ["last_attempt_at"])
    with op.batch_alter_table("users") as batch:
        batch.drop_column("failed_logins")
        batch.drop_column("locked_until")


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("failed_logins", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True))
    op.drop_table("auth_throttles")
