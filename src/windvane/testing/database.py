"""Metadata databases for tests: a migrated SQLite file, or a PostgreSQL database of one's own.

Plain functions and a class, no pytest: :mod:`windvane.testing.fixtures` turns
them into fixtures, and a script or benchmark can use them directly.

* :func:`sqlite_url` / :func:`migrated_engine` — a SQLite file in a folder, migrated.
* :class:`SqliteTemplate` — migrate once, then copy the file for each test (a copy costs a
  tenth of a migration).
* :class:`PostgresDatabase` — ``create`` makes a database with a random name
  (``wv_test_<hex>``) on a server, ``clean`` empties it between tests
  (``TRUNCATE`` of every table, plug-ins' too; only ``default_pool`` left), ``blank`` drops every table,
  ``drop`` removes the database.
"""

from __future__ import annotations

import secrets
import shutil
from pathlib import Path

from sqlalchemy import Engine, inspect
from sqlalchemy.exc import OperationalError

from windvane.core.store import solo_lock
from windvane.core.store.engine import begin_write, create_db_engine, mask_url, normalize_url
from windvane.core.store.migrate import check, drop_all, migrate
from windvane.core.store.pools import DEFAULT_POOL, DEFAULT_POOL_SLOTS, ensure_pool
from windvane.core.store.tables import metadata
from windvane.errors import StoreError

#: Where the test suite looks for PostgreSQL unless told otherwise.
DEFAULT_POSTGRES_SERVER_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


class DatabaseUnavailableError(StoreError):
    """The database server cannot be reached (the message names it, password masked)."""


def sqlite_url(folder: Path | str, name: str = "windvane.db") -> str:
    """The URL of the SQLite file ``name`` in ``folder``."""
    return f"sqlite:///{Path(folder) / name}"


def migrated_engine(url: str) -> Engine:
    """An engine on the database at ``url``, migrated to the current schema."""
    engine = create_db_engine(url)
    migrate(engine)
    return engine


class SqliteTemplate:
    """A SQLite database migrated once, handed out as fresh copies.

    The template's engine is disposed before any copy is made, so SQLite has
    checkpointed its write-ahead log into the file: a copy of the one file is
    the whole, current database.
    """

    def __init__(self, folder: Path | str) -> None:
        self.path = Path(folder) / "template.db"
        migrated_engine(sqlite_url(self.path.parent, self.path.name)).dispose()

    def engine(self, folder: Path | str, name: str = "windvane.db") -> Engine:
        """An engine on a fresh copy of the template at ``folder/name``."""
        shutil.copyfile(self.path, Path(folder) / name)
        return create_db_engine(sqlite_url(folder, name))


class PostgresDatabase:
    """A PostgreSQL database owned by one test session, and a small engine to tidy it."""

    def __init__(self, url: str, *, server_url: str | None = None) -> None:
        self.url = url
        #: The URL of the server's database used to create and drop this one.
        self.server_url = server_url
        self.engine = create_db_engine(url, pool_size=1)

    @classmethod
    def create(
        cls, server_url: str = DEFAULT_POSTGRES_SERVER_URL, *, prefix: str = "wv_test_"
    ) -> PostgresDatabase:
        """Create an empty database named ``<prefix><random hex>`` on the server of ``server_url``.

        Raises :class:`DatabaseUnavailableError` when the server cannot be reached
        (within 5 s unless the URL sets ``connect_timeout``).
        """
        server = normalize_url(server_url)
        if "connect_timeout" not in server.query:
            server = server.update_query_dict({"connect_timeout": "5"})
        server_text = server.render_as_string(hide_password=False)
        name = f"{prefix}{secrets.token_hex(6)}"
        admin = create_db_engine(server_text, pool_size=1)
        try:
            with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        except OperationalError as exc:
            raise DatabaseUnavailableError(
                f"PostgreSQL at {mask_url(server_text)} is unreachable: {exc.orig}"
            ) from None
        finally:
            admin.dispose()
        url = server.set(database=name).render_as_string(hide_password=False)
        return cls(url, server_url=server_text)

    @property
    def name(self) -> str:
        return self.engine.url.database or ""

    def clean(self) -> None:
        """Migrated, every table empty but ``default_pool`` and the ``dag_change`` counter (back at
        0), identities restarted."""
        if not check(self.engine).is_current:
            drop_all(self.engine)
            migrate(self.engine)
            return
        quote = self.engine.dialect.identifier_preparer.quote
        # Core's tables and those of plug-ins' branches (alerting...): all but Alembic's own.
        tables = {table.name for table in metadata.sorted_tables}
        tables |= set(inspect(self.engine).get_table_names()) - {"alembic_version"}
        names = ", ".join(quote(name) for name in sorted(tables))
        with begin_write(self.engine) as conn:
            solo_lock.end_every_holder(conn)  # a scheduler of an earlier test still alone on it
            conn.exec_driver_sql(f"TRUNCATE TABLE {names} RESTART IDENTITY CASCADE")
            ensure_pool(conn, DEFAULT_POOL, DEFAULT_POOL_SLOTS, description="Default pool")
            conn.exec_driver_sql("INSERT INTO dag_change (id, seq) VALUES (1, 0)")  # as migration 0006

    def blank(self) -> None:
        """No Windvane tables at all."""
        drop_all(self.engine)

    def drop(self) -> None:
        """Drop the database (closing its other connections); needs ``server_url``."""
        self.engine.dispose()
        if self.server_url is None:
            raise StoreError(f"cannot drop database {self.name!r}: its server URL is unknown")
        admin = create_db_engine(self.server_url, pool_size=1)
        try:
            with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        finally:
            admin.dispose()
