"""ids never reused (SQLite AUTOINCREMENT)

Run ids are public (/training-runs/{run_id}) and a project's latest run is its highest id: on SQLite, without
AUTOINCREMENT, the highest deleted id goes to the next row. PostgreSQL's sequences never go back: nothing to do there.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for table in ("training_runs", "model_versions"):
            with op.batch_alter_table(table, recreate="always", table_kwargs={"sqlite_autoincrement": True}):
                pass


def downgrade() -> None:
    pass
