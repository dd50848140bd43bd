"""The SQLAlchemy-free connection workers use (:mod:`windvane.core.store.raw`), on both backends.

What matters most: a datetime the raw path writes reads back through the
SQLAlchemy tables exactly as if SQLAlchemy had written it, and the other way
round (same text on SQLite, same timestamptz on PostgreSQL).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from datetime import UTC, datetime, timedelta, timezone

import pendulum
import pytest
from sqlalchemy import Engine, insert, select, text, update
from sqlalchemy.engine import make_url

from tests.store.helpers import T0, add_run
from windvane.core.store._time import to_db
from windvane.core.store.engine import begin_read, begin_write
from windvane.core.store.raw import RawDb, parse_url
from windvane.core.store.raw_sql import POSTGRESQL, SQLITE, Sql, Tx, bind_time, read_time
from windvane.core.store.tables import task_instance, xcom
from windvane.core.store.xcom_sql import RawXComReader, replace_xcoms
from windvane.core.store.xcoms import write_xcoms
from windvane.errors import StoreError
from windvane.testing import PostgresDatabase

AWKWARD = datetime(2024, 2, 29, 23, 59, 58, 123456, tzinfo=UTC)
NO_MICROSECONDS = datetime(2024, 3, 1, 1, 2, 3, tzinfo=UTC)
ELSEWHERE = datetime(2024, 3, 1, 1, 2, 3, 5, tzinfo=timezone(timedelta(hours=-7, minutes=-30)))
_SET_START = Sql("UPDATE task_instance SET start_date = :at WHERE id = :ti_id")
_GET_START = Sql("SELECT start_date FROM task_instance WHERE id = :ti_id")


def url_of(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def add_ti(engine: Engine, task_id: str = "t") -> int:
    with begin_write(engine) as conn:
        run = add_run(conn, "d", f"r_{task_id}")
        ti_id: int = conn.execute(
            insert(task_instance)
            .values(dag_run_id=run, dag_id="d", run_id=f"r_{task_id}", task_id=task_id)
            .returning(task_instance.c.id)
        ).scalar_one()
    return ti_id


def sa_start(engine: Engine, ti_id: int) -> datetime | None:
    with begin_read(engine) as conn:
        value: datetime | None = conn.execute(
            select(task_instance.c.start_date).where(task_instance.c.id == ti_id)
        ).scalar_one()
    return value


def raw_start(db: RawDb, ti_id: int) -> datetime | None:
    def read(tx: Tx) -> datetime | None:
        row = tx.first(_GET_START, {"ti_id": ti_id})
        return read_time(row[0] if row else None)

    return db.read(read)


def stored_text(engine: Engine, ti_id: int) -> object:
    with begin_read(engine) as conn:
        return conn.execute(text(f"SELECT start_date FROM task_instance WHERE id = {ti_id}")).scalar_one()


#: pendulum's (the scheduler's type), on the second 02:30 of a DST change: bound as a plain datetime.
PENDULUM = pendulum.datetime(2024, 10, 27, 2, 30, 0, 654321, tz="Europe/Paris", fold=1)


@pytest.mark.parametrize("value", [AWKWARD, NO_MICROSECONDS, ELSEWHERE, PENDULUM])
def test_datetimes_round_trip_exactly_as_sqlalchemy_stores_them(engine: Engine, value: datetime) -> None:
    by_raw, by_sa = add_ti(engine, "raw"), add_ti(engine, "sa")
    db = RawDb(url_of(engine))
    try:
        db.write(lambda tx: tx.execute(_SET_START, {"at": value, "ti_id": by_raw}))
        with begin_write(engine) as conn:
            stored = to_db(value, "start_date")  # the store's rule: UTC on the way in
            conn.execute(update(task_instance).where(task_instance.c.id == by_sa).values(start_date=stored))
        # Stored identically: the same text on SQLite, the same instant on PostgreSQL.
        assert stored_text(engine, by_raw) == stored_text(engine, by_sa)
        # Read back through the SQLAlchemy tables (naive UTC on SQLite, aware on PostgreSQL) ...
        expected = value.astimezone(UTC)
        read = sa_start(engine, by_raw)
        assert read is not None
        assert (read if read.tzinfo else read.replace(tzinfo=UTC)) == expected
        # ... and through the raw connection, always aware UTC.
        for ti_id in (by_raw, by_sa):
            got = raw_start(db, ti_id)
            assert got == expected and got is not None and got.utcoffset() == timedelta(0)
    finally:
        db.close()


@pytest.mark.postgres
def test_pendulum_datetimes_bind_through_sqlalchemy_as_the_same_instant(
    pg_database: PostgresDatabase,
) -> None:
    """Bound straight (no :func:`to_db`; SQLite needs it), through the engine's dumpers for pendulum."""
    engine = pg_database.engine
    ti_id = add_ti(engine, "pendulum")
    with begin_write(engine) as conn:
        conn.execute(update(task_instance).where(task_instance.c.id == ti_id).values(start_date=PENDULUM))
    read = sa_start(engine, ti_id)
    assert read is not None
    assert (read if read.tzinfo else read.replace(tzinfo=UTC)) == PENDULUM.astimezone(UTC)
    assert type(to_db(PENDULUM, "start_date")) is datetime


def test_sqlite_text_is_sqlalchemys_format() -> None:
    assert bind_time(AWKWARD, SQLITE, "x") == "2024-02-29 23:59:58.123456"
    assert bind_time(ELSEWHERE, SQLITE, "x") == "2024-03-01 08:32:03.000005"
    assert bind_time(ELSEWHERE, POSTGRESQL, "x") == ELSEWHERE
    with pytest.raises(StoreError, match="timezone-aware"):
        bind_time(datetime(2024, 1, 1), SQLITE, "start_date")


def test_write_commits_counts_and_rolls_back_on_error(engine: Engine) -> None:
    ti_id = add_ti(engine)
    db = RawDb(url_of(engine))
    try:
        with pytest.raises(RuntimeError, match="boom"):

            def fail(tx: Tx) -> None:
                tx.execute(_SET_START, {"at": AWKWARD, "ti_id": ti_id})
                raise RuntimeError("boom")

            db.write(fail)
        assert sa_start(engine, ti_id) is None and db.commits == 0
        assert db.write(lambda tx: tx.execute(_SET_START, {"at": AWKWARD, "ti_id": ti_id})) == 1
        assert db.commits == 1 and sa_start(engine, ti_id) is not None
        db.read(lambda tx: tx.first(_GET_START, {"ti_id": ti_id}))
        assert db.commits == 1  # reads are not commits
    finally:
        db.close()


def test_xcom_statements_are_shared_with_the_sqlalchemy_api(engine: Engine) -> None:
    with begin_write(engine) as conn:
        run = add_run(conn, "etl", "r1")
        write_xcoms(conn, run, "etl", "r1", "a", {"return_value": "[1]"}, T0)
    db = RawDb(url_of(engine))
    reader = RawXComReader(url_of(engine))
    try:
        assert reader.get(dag_id="etl", run_id="r1", task_id="a", key="return_value") == "[1]"
        db.write(lambda tx: replace_xcoms(tx, run, "etl", "r1", "a", {"k": '"v"'}, AWKWARD))
        assert reader.get(dag_id="etl", run_id="r1", task_id="a", key="return_value") is None
        assert reader.get(dag_id="etl", run_id="r1", task_id="a", key="k") == '"v"'
        with begin_read(engine) as conn:
            stamp = conn.execute(select(xcom.c.timestamp)).scalar_one()
        assert (stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)) == AWKWARD
    finally:
        reader.close()
        db.close()


def test_sqlite_settings_match_the_engine(sqlite_engine: Engine) -> None:
    db = RawDb(url_of(sqlite_engine))
    try:
        pragmas = db.read(
            lambda tx: [
                tx.first(Sql(f"PRAGMA {name}"))
                for name in ("journal_mode", "synchronous", "busy_timeout", "foreign_keys")
            ]
        )
        assert pragmas == [("wal",), (1,), (30000,), (1,)]
    finally:
        db.close()


def test_sqlite_reads_do_not_wait_for_a_writer(sqlite_engine: Engine) -> None:
    ti_id = add_ti(sqlite_engine)
    path = make_url(url_of(sqlite_engine)).database
    assert path is not None
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    db = RawDb(url_of(sqlite_engine))
    try:
        started = time.monotonic()
        assert db.read(lambda tx: tx.first(_GET_START, {"ti_id": ti_id})) == (None,)
        assert time.monotonic() - started < 1.0
        # A writer queues for the lock (BEGIN IMMEDIATE) instead of failing.
        threading.Timer(0.3, holder.rollback).start()
        assert db.write(lambda tx: tx.execute(_SET_START, {"at": AWKWARD, "ti_id": ti_id})) == 1
    finally:
        db.close()
        holder.close()


@pytest.mark.postgres
def test_postgres_connection_killed_by_the_server_is_replaced(pg_database: PostgresDatabase) -> None:
    pg_database.clean()
    engine = pg_database.engine
    ti_id = add_ti(engine)
    db = RawDb(url_of(engine))

    def kill_session() -> None:
        pid = db.read_one(Sql("SELECT pg_backend_pid()"), {})
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid[0][0]})
            conn.commit()

    try:
        kill_session()
        assert db.write(lambda tx: tx.execute(_SET_START, {"at": AWKWARD, "ti_id": ti_id})) == 1
        assert db.read(lambda tx: tx.first(Sql("SELECT current_setting('TimeZone')"))) == ("UTC",)
        kill_session()
        guarded = Sql("UPDATE task_instance SET pid = 7 WHERE id = :ti_id AND pid IS NULL RETURNING id")
        assert db.write_one(guarded, {"ti_id": ti_id}) == [(ti_id,)]
        kill_session()
        assert db.read_one(_GET_START, {"ti_id": ti_id}) != []
        assert db.commits == 2
    finally:
        db.close()


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:////tmp/a%20b/windvane.db",
        "sqlite:///relative/windvane.db",
        "sqlite+pysqlite:////abs.db",
        "postgresql+psycopg://us%40er:p%40ss@127.0.0.1:5432/db?connect_timeout=5",
        "postgres://u@/db?host=/var/run/postgresql",
    ],
)
def test_parse_url_agrees_with_sqlalchemy(url: str) -> None:
    target, parsed = parse_url(url), make_url(url)
    if parsed.get_backend_name() == "sqlite":
        assert (target.dialect, target.database) == (SQLITE, parsed.database)
    else:
        assert target.dialect == POSTGRESQL and target.options == "-c timezone=UTC"
        assert target.database.startswith("postgresql://") and target.database.endswith(
            url.split("://", 1)[1]
        )
    with pytest.raises(StoreError, match="unsupported"):
        parse_url("mysql://x/y")


def test_named_parameters_become_pyformat_once() -> None:
    sql = Sql("SELECT x::text, '50%' FROM t WHERE a = :a AND b IN (:b, :c_1)")
    assert sql.for_dialect(SQLITE) == sql.text
    assert sql.for_dialect(POSTGRESQL) == (
        "SELECT x::text, '50%%' FROM t WHERE a = %(a)s AND b IN (%(b)s, %(c_1)s)"
    )
