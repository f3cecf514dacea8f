"""training run request fingerprint

A retried POST /train with the same Idempotency-Key returns the run it made; the same key with another body must
be refused instead (422), so each run keeps a sha256 of the request that made it. Rows from before this revision have
none and are compared by project only.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("training_runs", sa.Column("request_fingerprint", sa.String(64), nullable=True))


def downgrade() -> None:
    op.drop_column("training_runs", "request_fingerprint")
