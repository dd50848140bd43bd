"""Fixtures of the SQL, HTTP and email operator tests: Connections served by an installed resolver,
a schema of its own on the real PostgreSQL, a database of its own on the real MariaDB.

``connections`` installs a :class:`DictResolver` (``secrets.install_resolver``) for the test and
uninstalls it after; tests add connections to it. The database fixtures need the machine's
servers (PostgreSQL 127.0.0.1:5432 db ``test``, MariaDB 127.0.0.1:3306 root); without them the
tests are skipped, or fail when ``CI=true``.
"""

from __future__ import annotations

import secrets as random_names
from collections.abc import Iterator

import pytest

from tests.alerting.conftest import Sink, SmtpServer, free_port
from tests.io_operators.http_server import ScriptedHttpServer
from windvane.core.model.connection import Connection
from windvane.core.task_api import secrets
from windvane.testing.fixtures import postgres_unavailable

PG_SERVER = {"host": "127.0.0.1", "port": 5432, "user": "postgres", "dbname": "test"}
MARIADB_SERVER = {"host": "127.0.0.1", "port": 3306, "user": "root", "database": "test"}


class DictResolver:
    """Connections (and variables) from dicts, for in-process tests."""

    def __init__(self) -> None:
        self.connections: dict[str, Connection] = {}
        self.variables: dict[str, str] = {}

    def add(self, conn_id: str, uri_or_json: str) -> Connection:
        conn = Connection.from_text(conn_id, uri_or_json)
        self.connections[conn_id] = conn
        return conn

    def get_connection(self, conn_id: str) -> Connection | None:
        return self.connections.get(conn_id)

    def get_variable(self, key: str) -> str | None:
        return self.variables.get(key)


@pytest.fixture(autouse=True)
def _no_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    """Loopback servers must be reached directly, whatever the machine's proxy settings."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def connections() -> Iterator[DictResolver]:
    resolver = DictResolver()
    secrets.install_resolver(resolver)
    try:
        yield resolver
    finally:
        secrets.install_resolver(None)


@pytest.fixture
def pg_schema() -> Iterator[str]:
    """A schema of its own in the PostgreSQL database ``test``, dropped after the test."""
    psycopg = pytest.importorskip("psycopg")
    name = f"ops_{random_names.token_hex(6)}"
    try:
        admin = psycopg.connect(**PG_SERVER, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        postgres_unavailable(f"PostgreSQL at 127.0.0.1:5432 is not reachable: {exc}")
    with admin:
        admin.execute(f"CREATE SCHEMA {name}")
        try:
            yield name
        finally:
            admin.execute(f"DROP SCHEMA {name} CASCADE")


@pytest.fixture
def mariadb_database() -> Iterator[str]:
    """A database of its own on the MariaDB server, dropped after the test."""
    pymysql = pytest.importorskip("pymysql")
    name = f"ops_{random_names.token_hex(6)}"
    try:
        admin = pymysql.connect(**MARIADB_SERVER, autocommit=True, connect_timeout=5)
    except pymysql.err.OperationalError as exc:
        postgres_unavailable(f"MariaDB at 127.0.0.1:3306 is not reachable: {exc}")
    try:
        with admin.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE {name}")
        yield name
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {name}")
        admin.close()


@pytest.fixture
def mail_server() -> Iterator[SmtpServer]:
    """An SMTP server on loopback that accepts mail from anyone (the alerting tests' sink)."""
    from aiosmtpd.controller import Controller

    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield SmtpServer("127.0.0.1", controller.port, sink)
    finally:
        controller.stop()


@pytest.fixture
def http_server() -> Iterator[ScriptedHttpServer]:
    with ScriptedHttpServer() as server:
        yield server
