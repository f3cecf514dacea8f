"""ids never reused (SQLite AUTOINCREMENT), and projects.deleting

On SQLite an INTEGER PRIMARY KEY without AUTOINCREMENT hands the highest deleted id to the next row, so a new user's
project could take a deleted project's id and, with it, runs that outlived it. PostgreSQL's sequences never go back,
so there this only adds the column.

``deleting`` is set (and committed) before the projects service asks the trainer to delete a project's runs; the
trainer creates a run only in the same transaction as a check that its project exists and is not being deleted.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TABLES_WITH_PUBLIC_IDS = ("users", "projects")


def upgrade() -> None:
    with op.batch_alter_table("projects") as batch:
        batch.add_column(sa.Column("deleting", sa.Boolean(), nullable=False, server_default=sa.false()))
    if op.get_bind().dialect.name == "sqlite":
        for table in TABLES_WITH_PUBLIC_IDS:
            with op.batch_alter_table(table, recreate="always", table_kwargs={"sqlite_autoincrement": True}):
                pass


def downgrade() -> None:
    with op.batch_alter_table("projects") as batch:
        batch.drop_column("deleting")
