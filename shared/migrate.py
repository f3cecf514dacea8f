"""Apply each service's Alembic migration history to ``DATABASE_URL``.

Every service that owns tables has ``services/<name>/migrations`` and its own version table
(``alembic_version_<name>``), so the histories never step on each other in the one database.

    python -m shared.migrate            # upgrade every service to head
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable

from alembic import command, context
from alembic.config import Config
from sqlalchemy import create_engine, pool

from shared.config import REPO_ROOT, load_config
from shared.db import db

SERVICES_WITH_TABLES = ("projects", "trainer", "predictor")


def alembic_config(service: str, database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(REPO_ROOT / "services" / service / "migrations"))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    config.attributes["service"] = service
    return config


def upgrade(database_url: str, services: Iterable[str] = SERVICES_WITH_TABLES) -> None:
    for service in services:
        command.upgrade(alembic_config(service, database_url), "head")


def run_migrations(service: str, owned_tables: set[str]) -> None:
    """The body of a service's ``env.py``: migrate only the tables that service owns."""

    def include_object(obj, name, type_, reflected, compare_to):  # noqa: ANN001 - alembic's hook signature
        table = name if type_ == "table" else getattr(getattr(obj, "table", None), "name", None)
        return table is None or table in owned_tables

    url = context.config.get_main_option("sqlalchemy.url")
    options = dict(
        target_metadata=db.metadata,
        version_table=f"alembic_version_{service}",
        include_object=include_object,
        render_as_batch=url.startswith("sqlite"),
    )
    if context.is_offline_mode():
        context.configure(url=url, literal_binds=True, **options)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        if url.startswith("sqlite"):
            # Batch mode recreates a table (copy, DROP, rename); with foreign keys on, the DROP of a referenced table
            # would cascade-delete its children's rows. The pragma only takes effect outside a transaction.
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.commit()
        context.configure(connection=connection, **options)
        with context.begin_transaction():
            context.run_migrations()


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    config = load_config()  # the database URL only: no secret is read
    services = argv or list(SERVICES_WITH_TABLES)
    if config["DATABASE_URL"].startswith("sqlite:///"):
        from pathlib import Path

        Path(config["DATABASE_URL"].removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    upgrade(config["DATABASE_URL"], services)
    print(f"migrated {', '.join(services)} on {config['DATABASE_URL'].split('@')[-1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
