"""pytest fixtures for the metadata database, on SQLite and on PostgreSQL.

Load them as a plugin from a ``conftest.py``::

    pytest_plugins = ["windvane.testing.fixtures"]

``engine``
    an engine on a migrated, empty database (only ``default_pool``), once on
    SQLite and once on PostgreSQL (that param is marked ``postgres``);
    disposed after the test.
``db_url``
    the URL of a blank database (no tables) on both backends, for tests of
    migrations. Request it or ``engine``, not both.
``sqlite_engine``
    like ``engine``, SQLite only (fast tests).
``db_backend``
    ``"sqlite"`` or ``"postgres"``: the parameter the two above follow.
``pg_database``
    the session's :class:`~windvane.testing.database.PostgresDatabase`.
``sqlite_template``
    the session's :class:`~windvane.testing.database.SqliteTemplate`: SQLite
    databases are migrated once and copied for each test.

PostgreSQL tests share one database created for the session
(``wv_test_<random>`` on the server of the environment variable
``WINDVANE_TEST_PG_URL``, default
:data:`~windvane.testing.database.DEFAULT_POSTGRES_SERVER_URL`) and dropped at
its end; between tests its tables are truncated. Without a reachable server
those tests are skipped, or fail when ``CI=true``. The ``postgres`` marker
must be registered (``markers`` in the pytest configuration) under
``--strict-markers``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import pytest
from sqlalchemy import Engine

from windvane.core.store.engine import create_db_engine
from windvane.testing.database import (
    DEFAULT_POSTGRES_SERVER_URL,
    DatabaseUnavailableError,
    PostgresDatabase,
    SqliteTemplate,
    sqlite_url,
)

#: Environment variable naming the PostgreSQL server the fixtures create their database on.
PG_URL_VARIABLE = "WINDVANE_TEST_PG_URL"


def postgres_unavailable(message: str) -> NoReturn:
    """Skip the test, or fail it when ``CI=true`` (a missing service is a failure in CI)."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message} (a missing service is a failure in CI)")
    pytest.skip(message)


@pytest.fixture(scope="session")
def pg_database() -> Iterator[PostgresDatabase]:
    """A fresh PostgreSQL database for this test session, dropped at its end."""
    try:
        database = PostgresDatabase.create(os.environ.get(PG_URL_VARIABLE, DEFAULT_POSTGRES_SERVER_URL))
    except DatabaseUnavailableError as exc:
        postgres_unavailable(str(exc))
    try:
        yield database
    finally:
        database.drop()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> SqliteTemplate:
    """A migrated SQLite database that the SQLite fixtures copy."""
    return SqliteTemplate(tmp_path_factory.mktemp("sqlite_template"))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_backend(request: pytest.FixtureRequest) -> str:
    """``"sqlite"`` or ``"postgres"``: the backend the database fixtures use."""
    backend: str = request.param
    return backend


@pytest.fixture
def db_url(db_backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """The URL of a blank database (no tables) on each backend."""
    if "engine" in request.fixturenames:
        pytest.fail("request db_url (a blank database) or engine (a migrated one), not both")
    if db_backend == "sqlite":
        return sqlite_url(tmp_path)
    database: PostgresDatabase = request.getfixturevalue("pg_database")
    database.blank()
    return database.url


@pytest.fixture
def engine(db_backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Engine]:
    """An engine on a migrated, empty database (only ``default_pool``) on each backend."""
    if db_backend == "sqlite":
        template: SqliteTemplate = request.getfixturevalue("sqlite_template")
        result = template.engine(tmp_path)
    else:
        database: PostgresDatabase = request.getfixturevalue("pg_database")
        database.clean()
        result = create_db_engine(database.url)
    yield result
    result.dispose()


@pytest.fixture
def sqlite_engine(tmp_path: Path, sqlite_template: SqliteTemplate) -> Iterator[Engine]:
    """An engine on a migrated, empty SQLite database."""
    result = sqlite_template.engine(tmp_path)
    yield result
    result.dispose()
