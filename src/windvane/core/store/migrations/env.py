"""Alembic environment: runs migrations on the connection that ``migrate`` passes in.

There is no ``alembic.ini`` and no offline (SQL script) mode; see
:mod:`windvane.core.store.migrate`. The revisions run here are core's and the
plug-ins' (each plug-in's folder is one more version location, its revisions
a branch of their own); ``target_metadata`` describes core's tables only.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from windvane.core.store.tables import metadata
from windvane.errors import StoreError


def run_migrations() -> None:
    connection = context.config.attributes.get("connection")
    if context.is_offline_mode() or not isinstance(connection, Connection):
        raise StoreError(
            "Windvane migrations run online only, through windvane.core.store.migrate.migrate(engine)"
        )
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
