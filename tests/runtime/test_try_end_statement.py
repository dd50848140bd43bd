"""Issue 15: a worker's finish, the claim of its next try and the finish's journal row in one statement.

On SQLite and PostgreSQL (the ``engine`` fixture): the guards of both rows hold separately, the
journal row written by migration 0010's trigger equals what the journal's ``INSERT`` writes, and
the finishes that write more than the row keep the ``INSERT``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Engine, inspect, select, text, update

from windvane.core.model.outcome import TryOutcome
from windvane.core.model.states import TaskInstanceState as S
from windvane.core.model.workload import Workload
from windvane.core.store import journal
from windvane.core.store._time import from_db
from windvane.core.store.engine import begin_read, begin_write, create_db_engine
from windvane.core.store.journal_sql import COLUMNS, JournalBatch, JournalReason
from windvane.core.store.migrate import alembic_config, migrate
from windvane.core.store.raw import RawDb
from windvane.core.store.raw_sql import Tx
from windvane.core.store.sql_bridge import dbapi_tx
from windvane.core.store.tables import state_journal, task_instance
from windvane.core.store.try_claim import Claim, ClaimNext, claim_try
from windvane.core.store.try_lifecycle import finish_try
from windvane.testing import queued_try, ti_row


@pytest.fixture
def db(engine: Engine) -> Iterator[RawDb]:
    raw = RawDb(engine.url.render_as_string(hide_password=False))
    yield raw
    raw.close()


def claimed(db: RawDb, wl: Workload) -> Claim:
    claim = claim_try(db, wl, hostname="worker-1", pid=11)
    assert claim is not None
    return claim


def journal_rows(engine: Engine) -> list[dict[str, Any]]:
    with begin_read(engine) as conn:
        rows = conn.execute(select(state_journal).order_by(state_journal.c.id)).mappings()
        return [dict(r) for r in rows]


def set_row(engine: Engine, wl: Workload, **values: Any) -> None:
    with begin_write(engine) as conn:
        conn.execute(update(task_instance).where(task_instance.c.id == wl.ti_id).values(**values))


def test_finish_and_next_claim_are_one_statement_one_commit(engine: Engine, db: RawDb) -> None:
    first = queued_try(engine, "/nowhere.py", "d", "first")
    second = queued_try(engine, "/nowhere.py", "d", "second")
    claim = claimed(db, first)
    statements, commits = Tx.executed, db.commits
    then = ClaimNext(second, "worker-2", 22)
    event = finish_try(db, first, TryOutcome(state=S.SUCCESS), start_date=claim.start_date, then=then)
    assert (Tx.executed - statements, db.commits - commits) == (1, 1)
    assert event.state == "success" and then.tried and then.claim is not None
    done, running = ti_row(engine, first.ti_id), ti_row(engine, second.ti_id)
    assert (done["state"], done["hostname"], done["pid"]) == ("success", "worker-1", 11)
    assert done["end_date"] is not None and done["duration"] is not None
    assert (running["state"], running["hostname"], running["pid"]) == ("running", "worker-2", 22)
    assert (running["end_date"], running["duration"], running["error"]) == (None, None, None)
    assert running["start_date"] is not None and running["last_heartbeat_at"] is not None
    assert [(r["ti_id"], r["state"], r["hostname"]) for r in journal_rows(engine)] == [
        (first.ti_id, "success", "worker-1")
    ]


def test_a_finish_whose_claim_was_lost_is_rejected_and_the_next_try_still_claimed(
    engine: Engine, db: RawDb
) -> None:
    first = queued_try(engine, "/nowhere.py", "d", "first", max_tries=2)
    second = queued_try(engine, "/nowhere.py", "d", "second")
    claim = claimed(db, first)
    set_row(engine, first, state="up_for_retry", end_date=None)  # the scheduler declared it lost
    then = ClaimNext(second, "worker-1", 11)
    event = finish_try(db, first, TryOutcome(state=S.SUCCESS), start_date=claim.start_date, then=then)
    assert event.state is None and "changed elsewhere" in (event.error or "")
    assert ti_row(engine, first.ti_id)["state"] == "up_for_retry"
    assert then.claim is not None and ti_row(engine, second.ti_id)["state"] == "running"
    assert journal_rows(engine) == []  # no row for a finish that did not land


def test_a_late_finish_of_a_retried_try_does_not_touch_its_next_try(engine: Engine, db: RawDb) -> None:
    """The next try the worker holds is the same task instance's retry (queued after the try was
    declared lost): each guard picks its own try, the late finish is rejected."""
    wl = queued_try(engine, "/nowhere.py", "d", "t", max_tries=2)
    claim = claimed(db, wl)
    set_row(engine, wl, state="queued", try_number=2)  # declared lost, queued again
    retry = dataclasses.replace(wl, try_number=2)
    then = ClaimNext(retry, "worker-1", 11)
    event = finish_try(
        db, wl, TryOutcome(state=S.FAILED, error="late"), start_date=claim.start_date, then=then
    )
    assert event.state is None and then.claim is not None
    row = ti_row(engine, wl.ti_id)
    assert (row["state"], row["try_number"], row["error"], row["end_date"]) == ("running", 2, None, None)
    assert journal_rows(engine) == []


def test_a_next_try_claimed_elsewhere_is_not_claimed_again(engine: Engine, db: RawDb) -> None:
    first = queued_try(engine, "/nowhere.py", "d", "first")
    second = queued_try(engine, "/nowhere.py", "d", "second")
    claim = claimed(db, first)
    other = RawDb(db.url)
    try:
        assert claim_try(other, second, hostname="elsewhere", pid=99) is not None
    finally:
        other.close()
    then = ClaimNext(second, "worker-1", 11)
    event = finish_try(db, first, TryOutcome(state=S.SUCCESS), start_date=claim.start_date, then=then)
    assert event.state == "success" and then.tried and then.claim is None
    row = ti_row(engine, second.ti_id)
    assert (row["state"], row["hostname"], row["pid"]) == ("running", "elsewhere", 99)
    assert [r["ti_id"] for r in journal_rows(engine)] == [first.ti_id]


def test_a_sensor_next_try_reads_its_reschedules_in_the_same_statement(engine: Engine, db: RawDb) -> None:
    first = queued_try(engine, "/nowhere.py", "d", "first")
    sensor = queued_try(engine, "/nowhere.py", "d", "sensor", try_number=3)
    with begin_write(engine) as conn:
        conn.execute(
            text(
                "INSERT INTO task_reschedule (ti_id, try_number, start_date, end_date, duration, "
                "reschedule_date) VALUES (:ti, 3, :at, :at, 0, :at)"
            ),
            {"ti": sensor.ti_id, "at": "2026-01-01 00:00:00.000000" if _sqlite(engine) else "2026-01-01Z"},
        )
    claim = claimed(db, first)
    then = ClaimNext(sensor, "worker-1", 11, first_try=1)
    assert finish_try(db, first, TryOutcome(state=S.SUCCESS), start_date=claim.start_date, then=then).state
    assert then.claim is not None and then.claim.reschedule_count == 1
    assert then.claim.first_poke_at is not None and then.claim.first_poke_at.year == 2026


@pytest.mark.parametrize(
    ("state", "reason", "error"),
    [
        (S.SUCCESS, None, None),
        (S.UP_FOR_RETRY, JournalReason.TASK_KILLED, "x" * 5000 + " the end"),
        (S.FAILED, None, "boom"),
    ],
)
def test_the_trigger_journal_row_equals_the_insert_row(
    engine: Engine, db: RawDb, state: S, reason: JournalReason | None, error: str | None
) -> None:
    wl = queued_try(engine, "/nowhere.py", "d", "t", max_tries=2)
    second = queued_try(engine, "/nowhere.py", "d", "next")
    claim = claimed(db, wl)
    delay = timedelta(seconds=30) if state is S.UP_FOR_RETRY else None
    outcome = TryOutcome(state=state, error=error, next_retry_delay=delay)
    then = ClaimNext(second, "worker-1", 11)
    assert finish_try(db, wl, outcome, start_date=claim.start_date, reason=reason, then=then).state == state
    [by_trigger] = journal_rows(engine)
    # What the journal's INSERT ... SELECT (every other writer's) writes for the same row now.
    with begin_write(engine) as conn:
        batch = JournalBatch(from_db(ti_row(engine, wl.ti_id)["end_date"]))
        batch.add_tis([(wl.ti_id, wl.dag_run_id, state.value)], reason=reason)
        batch.write(dbapi_tx(conn))
    by_trigger_, by_insert = journal_rows(engine)
    assert by_trigger_ == by_trigger
    assert {c: by_trigger[c] for c in COLUMNS} == {c: by_insert[c] for c in COLUMNS}
    assert by_trigger["reason"] == (None if reason is None else reason.value)
    assert by_trigger["hostname"] == "worker-1" and by_trigger["try_number"] == 1
    if error is not None and len(error) > 4000:
        assert len(by_trigger["error"]) == 4000 and by_trigger["error"].endswith(" the end")
    with begin_read(engine) as conn:  # and the reader sees it as any other entry
        [entry, _copy] = journal.read_after(conn, 0, 10)
    assert entry.key is not None and entry.key.ti_id == wl.ti_id and entry.state == state.value


def test_a_finish_that_writes_more_keeps_the_journal_insert(engine: Engine, db: RawDb) -> None:
    """XComs (and skips, rendered fields, a later try's XCom delete) go before the journal's lock."""
    wl = queued_try(engine, "/nowhere.py", "d", "t")
    second = queued_try(engine, "/nowhere.py", "d", "next")
    claim = claimed(db, wl)
    before = Tx.executed
    outcome = TryOutcome(state=S.SUCCESS, xcoms={"return_value": "1"})
    then = ClaimNext(second, "worker-1", 11)
    assert finish_try(db, wl, outcome, start_date=claim.start_date, then=then).state == "success"
    assert Tx.executed - before == 3  # finish + claim, the XCom insert, the journal insert
    assert then.claim is not None
    assert [(r["ti_id"], r["state"], r["reason"]) for r in journal_rows(engine)] == [
        (wl.ti_id, "success", None)
    ]


def test_other_writers_do_not_fire_the_trigger(engine: Engine) -> None:
    """Only an UPDATE that sets ``journal_reason`` journals through the trigger."""
    wl = queued_try(engine, "/nowhere.py", "d", "t")
    set_row(engine, wl, state="running")
    set_row(engine, wl, state="success", end_date=None)
    assert journal_rows(engine) == []


def test_upgrade_from_0009_keeps_rows_and_journals_their_finish(db_url: str) -> None:
    engine = create_db_engine(db_url)
    try:
        with begin_write(engine) as conn:
            config = alembic_config(conn, version_locations=())
            command.upgrade(config, "0009")
        assert "journal_reason" not in {c["name"] for c in inspect(engine).get_columns("task_instance")}
        wl = queued_try(engine, "/nowhere.py", "d", "t")
        migrate(engine)
        assert "journal_reason" in {c["name"] for c in inspect(engine).get_columns("task_instance")}
        raw = RawDb(db_url)
        try:
            claim = claimed(raw, wl)
            event = finish_try(raw, wl, TryOutcome(state=S.SUCCESS), start_date=claim.start_date)
        finally:
            raw.close()
        assert event.state == "success"
        assert [(r["ti_id"], r["state"]) for r in journal_rows(engine)] == [(wl.ti_id, "success")]
        with begin_write(engine) as conn:  # and back down: the trigger and the column go
            command.downgrade(alembic_config(conn), "0010-1")
        assert "journal_reason" not in {c["name"] for c in inspect(engine).get_columns("task_instance")}
    finally:
        engine.dispose()


def _sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"
