"""The state-change journal's reading side: order, limits, consumers, retention; one insert for both paths."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import Engine, insert

from windvane.core.model.workload import TaskInstanceKey
from windvane.core.store import journal
from windvane.core.store.engine import begin_read, begin_write
from windvane.core.store.journal_sql import ERROR_LIMIT, JournalBatch, JournalKind, error_summary
from windvane.core.store.raw import RawDb
from windvane.core.store.sql_bridge import dbapi_tx
from windvane.core.store.tables import task_instance
from windvane.errors import NotFoundError, StoreError

from .helpers import T0, add_run


def journal_runs(engine: Engine, count: int, *, at: timedelta = timedelta(0)) -> list[int]:
    """``count`` finished runs, each journaled in a transaction of its own at T0 + ``at``; their ids."""
    pks = []
    for _ in range(count):
        with begin_write(engine) as conn:
            pk = add_run(conn, "d", f"r{len(pks)}_{at.total_seconds():g}", state="success")
            batch = JournalBatch(T0 + at)
            batch.add_runs([(pk, "success")])
            batch.write(dbapi_tx(conn))
        pks.append(pk)
    return pks


def ids(entries: list[journal.JournalEntry]) -> list[int]:
    return [e.id for e in entries]


def test_read_after_returns_entries_in_id_order_up_to_the_limit(engine: Engine) -> None:
    runs = journal_runs(engine, 5)
    with begin_read(engine) as conn:
        everything = journal.read_after(conn, 0, 100)
        first, rest = journal.read_after(conn, 0, 2), journal.read_after(conn, everything[1].id, 100)
        assert journal.tail(conn) == everything[-1].id
        assert journal.read_after(conn, everything[-1].id, 10) == []
    assert [e.dag_run_id for e in everything] == runs
    assert ids(everything) == sorted(ids(everything)) and len(set(ids(everything))) == 5
    assert first + rest == everything
    entry = everything[0]
    assert (entry.kind, entry.state, entry.dag_id, entry.run_id, entry.key) == (
        JournalKind.RUN_FINISHED,
        "success",
        "d",
        "r0_0",
        None,
    )
    assert entry.recorded_at == T0


def test_a_bad_limit_is_refused(engine: Engine) -> None:
    with begin_read(engine) as conn, pytest.raises(StoreError, match="limit must be 1 or more, got 0"):
        journal.read_after(conn, 0, 0)


def test_a_try_entry_names_the_culprit_with_an_error_summary(engine: Engine) -> None:
    long_error = "x" * ERROR_LIMIT + "ValueError: the end"
    retry_at = T0 + timedelta(minutes=5)
    with begin_write(engine) as conn:
        run = add_run(conn, "etl", "r1")
        ti_id = conn.execute(
            insert(task_instance)
            .values(
                dag_run_id=run, dag_id="etl", run_id="r1", task_id="load", map_index=3, state="up_for_retry",
                try_number=2, max_tries=4, error=long_error, next_retry_at=retry_at, hostname="worker-1",
            )
            .returning(task_instance.c.id)
        ).scalar_one()  # fmt: skip
        batch = JournalBatch(T0)
        batch.add_tis([(ti_id, run, "up_for_retry")])
        batch.write(dbapi_tx(conn))
        [entry] = journal.read_after(conn, 0, 10)
    assert entry.key == TaskInstanceKey(ti_id, run, "etl", "r1", "load", 3)
    assert (entry.kind, entry.state, entry.try_number, entry.max_tries) == (
        JournalKind.TRY_FINISHED,
        "up_for_retry",
        2,
        4,
    )
    assert entry.error == error_summary(long_error)
    assert entry.error is not None and len(entry.error) == ERROR_LIMIT and entry.error.endswith("the end")
    assert (entry.next_retry_at, entry.hostname, entry.reason) == (retry_at, "worker-1", None)


def test_a_row_no_longer_in_the_state_it_was_changed_to_is_not_journaled(engine: Engine) -> None:
    with begin_write(engine) as conn:
        run = add_run(conn, "d", "r", state="success")
        batch = JournalBatch(T0)
        batch.add_runs([(run, "failed")])  # the row says success
        batch.write(dbapi_tx(conn))
        assert journal.read_after(conn, 0, 10) == []


def test_the_worker_path_and_the_sqlalchemy_path_write_the_same_entry(engine: Engine) -> None:
    with begin_write(engine) as conn:
        run = add_run(conn, "d", "r", state="failed")
    raw = RawDb(engine.url.render_as_string(hide_password=False))
    try:

        def write(tx: object) -> None:
            batch = JournalBatch(T0)
            batch.add_runs([(run, "failed")])
            batch.write(tx)  # type: ignore[arg-type]

        raw.write(write)
    finally:
        raw.close()
    with begin_write(engine) as conn:
        write(dbapi_tx(conn))
        first, second = journal.read_after(conn, 0, 10)
    assert second.id > first.id
    assert first == journal.JournalEntry(**{**_fields(second), "id": first.id})


def _fields(entry: journal.JournalEntry) -> dict[str, object]:
    return {name: getattr(entry, name) for name in entry.__dataclass_fields__}


def test_a_new_consumer_starts_at_the_tail_unless_from_start(engine: Engine) -> None:
    journal_runs(engine, 3)
    with begin_write(engine) as conn:
        tail = journal.tail(conn)
        assert journal.register_consumer(conn, "alerts") == tail
        assert journal.register_consumer(conn, "audit", from_start=True) == 0
        journal.advance(conn, "alerts", tail)
        assert journal.register_consumer(conn, "audit") == 0  # again: unchanged
        assert journal.consumer_cursors(conn) == {"alerts": tail, "audit": 0}


def test_advance_never_moves_a_cursor_backwards(engine: Engine) -> None:
    with begin_write(engine) as conn:
        journal.register_consumer(conn, "alerts", from_start=True)
        assert journal.advance(conn, "alerts", 7) == 7
        assert journal.advance(conn, "alerts", 3) == 7
        assert journal.consumer_cursors(conn) == {"alerts": 7}
        with pytest.raises(NotFoundError, match="journal consumer 'nobody' is not registered"):
            journal.advance(conn, "nobody", 1)
        assert journal.remove_consumer(conn, "alerts") and not journal.remove_consumer(conn, "alerts")


def test_prune_deletes_old_entries_but_never_ones_a_consumer_has_not_read(engine: Engine) -> None:
    old = journal_runs(engine, 4)
    recent = journal_runs(engine, 2, at=timedelta(days=10))
    cutoff = T0 + timedelta(days=5)
    with begin_write(engine) as conn:
        entries = journal.read_after(conn, 0, 100)
        journal.register_consumer(conn, "slow", from_start=True)
        journal.register_consumer(conn, "fast", from_start=True)
        journal.advance(conn, "fast", entries[-1].id)
        journal.advance(conn, "slow", entries[1].id)  # has read the first two only
        assert journal.count_prunable(conn, older_than=cutoff) == 2
        assert journal.prune(conn, older_than=cutoff) == 2
        assert [e.dag_run_id for e in journal.read_after(conn, 0, 100)] == old[2:] + recent
        journal.advance(conn, "slow", entries[-1].id)
        assert journal.prune(conn, older_than=cutoff) == 2  # the rest of the old ones; recent stay
        assert [e.dag_run_id for e in journal.read_after(conn, 0, 100)] == recent


def test_without_consumers_prune_deletes_every_old_entry_and_ids_are_never_reused(engine: Engine) -> None:
    journal_runs(engine, 3)
    with begin_write(engine) as conn:
        last = journal.tail(conn)
        assert journal.prune(conn, older_than=T0 + timedelta(seconds=1)) == 3
        assert journal.tail(conn) == 0
    journal_runs(engine, 1, at=timedelta(days=1))
    with begin_read(engine) as conn:
        [entry] = journal.read_after(conn, 0, 10)
    assert entry.id > last  # a cursor at ``last`` still sees it


def test_journal_reader_reads_and_advances_one_consumer(engine: Engine) -> None:
    journal_runs(engine, 2)
    reader = journal.JournalReader(engine, "alerts")
    with pytest.raises(NotFoundError):
        reader.cursor()
    start = reader.register()
    assert reader.read_new() == []
    journal_runs(engine, 3, at=timedelta(hours=1))
    batch = reader.read_new(limit=2)
    assert len(batch) == 2 and batch[0].id > start
    assert reader.advance(batch[-1].id) == batch[-1].id
    [last] = reader.read_new()
    assert reader.read_after(start, 10) == [*batch, last]
    reader.advance(last.id)
    assert reader.read_new() == [] and reader.register() == last.id


def test_on_postgresql_a_second_writer_waits_so_ids_follow_commit_order(engine: Engine) -> None:
    """Ids come from a sequence; without the lock a later id could commit first and a reader past it
    would never see the earlier one."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time")
    with begin_write(engine) as conn:
        first, second = add_run(conn, "d", "a", state="success"), add_run(conn, "d", "b", state="success")

    def journal_run(pk: int) -> None:
        with begin_write(engine) as conn:
            batch = JournalBatch(T0)
            batch.add_runs([(pk, "success")])
            batch.write(dbapi_tx(conn))

    def waiting_for_the_lock() -> bool:
        with begin_read(engine) as conn:
            query = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
            return bool(conn.exec_driver_sql(query).scalar_one())

    with begin_write(engine) as holder:
        batch = JournalBatch(T0)
        batch.add_runs([(first, "success")])
        batch.write(dbapi_tx(holder))  # holds the lock until this block commits
        worker = threading.Thread(target=journal_run, args=(second,))
        worker.start()
        wait_for(waiting_for_the_lock, what="the second writer to wait for the journal lock")
    worker.join(timeout=30)
    assert not worker.is_alive()
    with begin_read(engine) as conn:
        assert [e.dag_run_id for e in journal.read_after(conn, 0, 10)] == [first, second]


def wait_for(condition: Callable[[], bool], *, timeout: float = 10.0, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.01)
