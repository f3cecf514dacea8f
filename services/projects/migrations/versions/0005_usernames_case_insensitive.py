"""usernames unique whatever their case

"Alice" and "alice" were two accounts. The unique index on lower(username) makes them one name (the spelling given
at registration is kept for display); it replaces the case-sensitive constraint. An existing database with two
names differing only in case would fail here; no deployment exists, so there is none.

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
    # On SQLite the table is rebuilt: keep its AUTOINCREMENT (0003), which reflection does not carry over.
    with op.batch_alter_table("users", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.drop_constraint("uq_users_username", type_="unique")
    op.create_index("uq_users_username_lower", "users", [sa.text("lower(username)")], unique=True)


def downgrade() -> None:
    op.drop_index("uq_users_username_lower", "users")
    with op.batch_alter_table("users") as batch:
        batch.create_unique_constraint("uq_users_username", ["username"])
