"""what a model version records for decisions and forecasts

model_versions: the task (regression or forecast), a forecast model's description, permutation importance, the
training profile (feature distributions and a background sample) and the evaluation (holdout pairs or backtest
windows); training_runs: whether the run's model was activated and why (champion and challenger).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("model_versions") as table:
        table.add_column(sa.Column("task", sa.String(16), nullable=False, server_default="regression"))
        table.add_column(sa.Column("forecast", sa.JSON(), nullable=True))
        table.add_column(sa.Column("permutation_importance", sa.JSON(), nullable=True))
        table.add_column(sa.Column("training_profile", sa.JSON(), nullable=True))
        table.add_column(sa.Column("evaluation", sa.JSON(), nullable=True))
    with op.batch_alter_table("training_runs") as table:
        table.add_column(sa.Column("activation", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("training_runs") as table:
        table.drop_column("activation")
    with op.batch_alter_table("model_versions") as table:
        for column in ("evaluation", "training_profile", "permutation_importance", "forecast", "task"):
            table.drop_column(column)
