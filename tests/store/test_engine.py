from __future__ import annotations

import os
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, insert, select, text

from windvane.core.store import engine as engine_module
from windvane.core.store.engine import (
    PING_AFTER_IDLE_SECONDS,
    after_fork,
    begin_read,
    begin_write,
    create_db_engine,
    mask_url,
    normalize_url,
)
from windvane.core.store.migrate import migrate
from windvane.core.store.tables import slot_pool
from windvane.errors import StoreError
from windvane.testing import PostgresDatabase


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("postgresql+psycopg://user:s3cret@db.internal/wv", "postgresql+psycopg://user:***@db.internal/wv"),
        ("postgres://u:p%40ss@h:5432/db?sslmode=require", "postgres://u:***@h:5432/db?sslmode=require"),
        ("postgresql://u:p@ss@h/db", "postgresql://u:***@h/db"),
        ("postgresql://h/db?user=u&password=pw&x=1", "postgresql://h/db?user=u&password=***&x=1"),
        ("postgresql://user@host:5432/db", "postgresql://user@host:5432/db"),
        ("sqlite:////tmp/a:b/windvane.db", "sqlite:////tmp/a:b/windvane.db"),
        ("not a url", "not a url"),
    ],
)
def test_mask_url(url: str, masked: str) -> None:
    assert mask_url(url) == masked


@pytest.mark.parametrize("url", ["postgres://u@h/db", "postgresql://u@h/db", "postgresql+psycopg://u@h/db"])
def test_postgres_urls_use_psycopg(url: str) -> None:
    assert normalize_url(url).drivername == "postgresql+psycopg"
    assert create_db_engine(url).dialect.driver == "psycopg"


@pytest.mark.parametrize(
    "url", ["mysql://root:hunter2@localhost/wv", "postgresql+psycopg2://root:hunter2@h/wv", "::nonsense::"]
)
def test_unsupported_url_is_a_store_error_without_the_password(url: str) -> None:
    with pytest.raises(StoreError) as info:
        create_db_engine(url)
    assert "hunter2" not in str(info.value)
    assert mask_url(url) in str(info.value)


def test_sqlite_creates_the_folder_and_sets_pragmas(tmp_path: Path) -> None:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'deep' / 'er' / 'wv.db'}")
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert (tmp_path / "deep" / "er" / "wv.db").exists()
    finally:
        engine.dispose()


def test_sqlite_in_memory_works() -> None:
    engine = create_db_engine("sqlite://")
    migrate(engine)
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(slot_pool)) == 1


def _write_lock_is_free(path: Path) -> bool:
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError as exc:
        assert "locked" in str(exc)
        return False
    finally:
        other.close()


def test_sqlite_transactions_take_the_write_lock_at_begin_but_reads_do_not(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    path = tmp_path / "windvane.db"
    with sqlite_engine.begin() as conn:
        conn.execute(select(slot_pool.c.pool)).all()
        assert not _write_lock_is_free(path)
    with begin_write(sqlite_engine) as conn:
        conn.execute(select(slot_pool.c.pool)).all()
        assert not _write_lock_is_free(path)
    with begin_read(sqlite_engine) as conn:
        conn.execute(select(slot_pool.c.pool)).all()
        assert _write_lock_is_free(path)
    assert _write_lock_is_free(path)


def test_begin_write_commits_and_begin_read_rolls_back(engine: Engine) -> None:
    with begin_write(engine) as conn:
        conn.execute(insert(slot_pool).values(pool="a", slots=1))
    with begin_read(engine) as conn:
        conn.execute(insert(slot_pool).values(pool="b", slots=1))
    with pytest.raises(RuntimeError), begin_write(engine) as conn:
        conn.execute(insert(slot_pool).values(pool="c", slots=1))
        raise RuntimeError("boom")
    with engine.connect() as conn:
        assert sorted(conn.scalars(select(slot_pool.c.pool))) == ["a", "default_pool"]


def test_savepoints_roll_back_inside_a_transaction(sqlite_engine: Engine) -> None:
    with sqlite_engine.begin() as conn:
        conn.execute(insert(slot_pool).values(pool="kept", slots=1))
        savepoint = conn.begin_nested()
        conn.execute(insert(slot_pool).values(pool="undone", slots=1))
        savepoint.rollback()
    with sqlite_engine.connect() as conn:
        assert sorted(conn.scalars(select(slot_pool.c.pool))) == ["default_pool", "kept"]


def test_autocommit_connections_still_work_on_sqlite(sqlite_engine: Engine) -> None:
    with sqlite_engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(insert(slot_pool).values(pool="auto", slots=1))
    with sqlite_engine.connect() as conn:
        assert conn.scalar(select(slot_pool.c.slots).where(slot_pool.c.pool == "auto")) == 1


def test_concurrent_sqlite_writers_do_not_fail(sqlite_engine: Engine) -> None:
    """Read-then-write transactions from two threads: the pattern that deadlocks
    deferred SQLite transactions ("database is locked") must simply queue."""
    errors: list[BaseException] = []
    rounds = 40

    def writer(name: str, use_helper: bool) -> None:
        try:
            for i in range(rounds):
                context = begin_write(sqlite_engine) if use_helper else sqlite_engine.begin()
                with context as conn:
                    count = conn.scalar(select(func.count()).select_from(slot_pool))
                    time.sleep(0.001)
                    conn.execute(insert(slot_pool).values(pool=f"{name}-{i}", slots=count))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n, n == "a")) for n in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with sqlite_engine.connect() as conn:
        counts = sorted(conn.scalars(select(slot_pool.c.slots).where(slot_pool.c.pool != "default_pool")))
    # Serialized: every writer saw all the rows committed before it.
    assert counts == list(range(1, 2 * rounds + 1))


def test_readers_do_not_wait_for_a_writer(sqlite_engine: Engine) -> None:
    with begin_write(sqlite_engine) as writing:
        writing.execute(insert(slot_pool).values(pool="pending", slots=1))
        started = time.monotonic()
        with begin_read(sqlite_engine) as reading:
            assert list(reading.scalars(select(slot_pool.c.pool))) == ["default_pool"]
        assert time.monotonic() - started < 1


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_after_fork_gives_the_child_its_own_connections(engine: Engine) -> None:
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 1
        try:
            after_fork(engine)
            with engine.connect() as conn:
                code = 0 if conn.scalar(select(func.count()).select_from(slot_pool)) == 1 else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT 1")) == 1


class _FakeMonotonic:
    """Stands in for the engine module's ``time``: the idle ping reads ``monotonic`` only."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


def _counting_pings(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    pings: list[int] = []
    do_ping = engine.dialect.do_ping

    def counted(dbapi_connection: object) -> bool:
        pings.append(1)
        return do_ping(dbapi_connection)

    monkeypatch.setattr(engine.dialect, "do_ping", counted)
    return pings


def _backend_pid(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


@pytest.mark.postgres
def test_postgres_pings_only_connections_that_sat_idle(
    pg_database: PostgresDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A scheduler pass checks a connection out several times: one returned a moment ago is handed
    out again without a ping round trip (pool_pre_ping pinged at every checkout)."""
    clock = _FakeMonotonic()
    monkeypatch.setattr(engine_module, "time", clock)
    engine = create_db_engine(pg_database.url, pool_size=1)
    try:
        pings = _counting_pings(engine, monkeypatch)
        first = _backend_pid(engine)  # a fresh connection: not pinged
        for _ in range(5):
            clock.now += PING_AFTER_IDLE_SECONDS / 2
            assert _backend_pid(engine) == first
        assert pings == []
        clock.now += PING_AFTER_IDLE_SECONDS
        assert _backend_pid(engine) == first
        assert pings == [1]
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_postgres_idle_connection_killed_by_the_server_is_replaced_at_checkout(
    pg_database: PostgresDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = _FakeMonotonic()
    monkeypatch.setattr(engine_module, "time", clock)
    engine = create_db_engine(pg_database.url, pool_size=1)
    admin = create_db_engine(pg_database.url, pool_size=1)
    try:
        pings = _counting_pings(engine, monkeypatch)
        victim = _backend_pid(engine)
        with admin.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": victim})
            conn.commit()
        clock.now += PING_AFTER_IDLE_SECONDS
        replaced = _backend_pid(engine)  # the ping fails, the pool connects anew: no error
        assert replaced != victim
        assert pings == [1]
    finally:
        engine.dispose()
        admin.dispose()
