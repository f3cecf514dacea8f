"""model artifact HMAC

The predictor unpickles an artifact only when its HMAC under MODEL_SIGNING_KEY matches; rows saved before this
revision have none (NULL) and are refused until retrained: their bytes cannot be told apart from altered ones.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("model_versions", sa.Column("artifact_hmac", sa.String(64), nullable=True))


def downgrade() -> None:
    op.drop_column("model_versions", "artifact_hmac")
