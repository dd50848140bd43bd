"""Fixtures shared by every test package.

Metadata database
    ``engine``        a migrated, empty database (only ``default_pool``), on
                      SQLite and on PostgreSQL (the ``postgres`` param is marked
                      ``postgres``); disposed after the test.
    ``db_url``        the URL of a blank database (no tables), on both backends,
                      for tests of migrations. Request it or ``engine``, not both.
    ``sqlite_engine`` like ``engine``, SQLite only (fast tests).

PostgreSQL tests share one database created for the session (``wv_test_<random>``
on the server of ``WINDVANE_TEST_PG_URL``) and dropped at its end; between tests
its tables are truncated. Without a reachable server those tests are skipped,
or fail when ``CI=true``.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import pytest
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from windvane.core.store.engine import begin_write, create_db_engine, mask_url, normalize_url
from windvane.core.store.migrate import check, drop_all, migrate
from windvane.core.store.pools import DEFAULT_POOL, DEFAULT_POOL_SLOTS, ensure_pool
from windvane.core.store.tables import metadata

# --------------------------------------------------------------------------- metadata database

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


class PostgresDatabase:
    """The session's own PostgreSQL database and a small engine to tidy it."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = create_db_engine(url, pool_size=1)

    def clean(self) -> None:
        """Migrated, every table empty but ``default_pool``, identities restarted."""
        if not check(self.engine).is_current:
            drop_all(self.engine)
            migrate(self.engine)
            return
        quote = self.engine.dialect.identifier_preparer.quote
        names = ", ".join(quote(table.name) for table in metadata.sorted_tables)
        with begin_write(self.engine) as conn:
            conn.exec_driver_sql(f"TRUNCATE TABLE {names} RESTART IDENTITY CASCADE")
            ensure_pool(conn, DEFAULT_POOL, DEFAULT_POOL_SLOTS, description="Default pool")

    def blank(self) -> None:
        """No Windvane tables at all."""
        drop_all(self.engine)


def _postgres_unavailable(message: str) -> NoReturn:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message} (a missing service is a failure in CI)")
    pytest.skip(message)


@pytest.fixture(scope="session")
def pg_database() -> Iterator[PostgresDatabase]:
    """A fresh PostgreSQL database for this test session, dropped at its end."""
    server = normalize_url(os.environ.get("WINDVANE_TEST_PG_URL", DEFAULT_PG_URL))
    if "connect_timeout" not in server.query:
        server = server.update_query_dict({"connect_timeout": "5"})
    server_url = server.render_as_string(hide_password=False)
    name = f"wv_test_{secrets.token_hex(6)}"
    admin = create_db_engine(server_url, pool_size=1)
    try:
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except OperationalError as exc:
        admin.dispose()
        _postgres_unavailable(f"PostgreSQL at {mask_url(server_url)} is unreachable: {exc.orig}")
    database = PostgresDatabase(server.set(database=name).render_as_string(hide_password=False))
    try:
        yield database
    finally:
        database.engine.dispose()
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_backend(request: pytest.FixtureRequest) -> str:
    """``"sqlite"`` or ``"postgres"``: the backend the database fixtures use."""
    backend: str = request.param
    return backend


def _sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'windvane.db'}"


@pytest.fixture
def db_url(db_backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """The URL of a blank database (no tables) on each backend."""
    if "engine" in request.fixturenames:
        pytest.fail("request db_url (a blank database) or engine (a migrated one), not both")
    if db_backend == "sqlite":
        return _sqlite_url(tmp_path)
    database: PostgresDatabase = request.getfixturevalue("pg_database")
    database.blank()
    return database.url


@pytest.fixture
def engine(db_backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Engine]:
    """An engine on a migrated, empty database (only ``default_pool``) on each backend."""
    if db_backend == "sqlite":
        result = create_db_engine(_sqlite_url(tmp_path))
        migrate(result)
    else:
        database: PostgresDatabase = request.getfixturevalue("pg_database")
        database.clean()
        result = create_db_engine(database.url)
    yield result
    result.dispose()


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    """An engine on a migrated, empty SQLite database."""
    result = create_db_engine(_sqlite_url(tmp_path))
    migrate(result)
    yield result
    result.dispose()
