"""The worker's statements (claim, heartbeat, finish) on a RawDb, read back through SQLAlchemy."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine, update

from windvane.core.model.outcome import TryOutcome
from windvane.core.model.states import TaskInstanceState as S
from windvane.core.store import journal
from windvane.core.store._time import from_db
from windvane.core.store.engine import begin_read, begin_write
from windvane.core.store.raw import RawDb
from windvane.core.store.raw_sql import Tx
from windvane.core.store.tables import dag_run, task_instance
from windvane.core.store.try_claim import claim_try
from windvane.core.store.try_lifecycle import finish_try, record_heartbeat
from windvane.testing import LOGICAL_DATE, insert_run, queued_try, ti_row, ti_states_of_run, xcom_text


@pytest.fixture
def db(engine: Engine) -> Iterator[RawDb]:
    raw = RawDb(engine.url.render_as_string(hide_password=False))
    yield raw
    raw.close()


def aware(value: datetime) -> datetime:
    """As SQLAlchemy reads it back: naive UTC on SQLite, aware on PostgreSQL."""
    return from_db(value)


def test_claim_reads_the_previous_successful_interval(engine: Engine, db: RawDb) -> None:
    day = timedelta(days=1)
    insert_run(engine, "d", "older", logical_date=LOGICAL_DATE - 2 * day, state="success")
    insert_run(engine, "d", "failed", logical_date=LOGICAL_DATE - day, state="failed")
    insert_run(engine, "other", "newer", logical_date=LOGICAL_DATE - day / 2, state="success")
    wl = queued_try(engine, "/nowhere.py", "d", "t")
    with begin_write(engine) as conn:
        conn.execute(
            update(dag_run).where(dag_run.c.run_id == "older").values(data_interval_end=LOGICAL_DATE - day)
        )
    claim = claim_try(db, wl, hostname="h", pid=42)
    assert claim is not None
    assert claim.run_start_date == LOGICAL_DATE
    assert claim.prev_data_interval_start_success == LOGICAL_DATE - 2 * day
    assert claim.prev_data_interval_end_success == LOGICAL_DATE - day
    row = ti_row(engine, wl.ti_id)
    assert (row["state"], row["hostname"], row["pid"]) == ("running", "h", 42)
    assert aware(row["start_date"]) == claim.start_date == aware(row["last_heartbeat_at"])
    assert db.commits == 1
    assert claim_try(db, wl, hostname="h", pid=42) is None  # claimed already: not again


def test_claim_without_a_previous_success(engine: Engine, db: RawDb) -> None:
    claim = claim_try(db, queued_try(engine, "/nowhere.py", "d", "t"), hostname="h", pid=1)
    assert claim is not None
    assert claim.prev_data_interval_start_success is None and claim.prev_data_interval_end_success is None


def test_heartbeat_and_finish_only_while_the_try_owns_its_row(engine: Engine, db: RawDb) -> None:
    wl = queued_try(engine, "/nowhere.py", "d", "branch", others=["left", "right"])
    claim = claim_try(db, wl, hostname="h", pid=1)
    assert claim is not None
    assert record_heartbeat(db, wl)
    outcome = TryOutcome(state=S.SUCCESS, xcoms={"return_value": "1"}, skip_task_ids=("right", "branch"))
    event = finish_try(db, wl, outcome, start_date=claim.start_date)
    assert event.state == "success" and event.skipped_task_ids == ("right",)
    assert ti_states_of_run(engine, wl.dag_run_id) == {
        "branch": "success",
        "left": "none",
        "right": "skipped",
    }
    assert xcom_text(engine, wl.dag_run_id, "branch") == "1"
    row = ti_row(engine, wl.ti_id)
    assert row["duration"] == pytest.approx((aware(row["end_date"]) - claim.start_date).total_seconds())
    # The row is no longer running: a late heartbeat or a second finish changes nothing.
    assert not record_heartbeat(db, wl)
    again = finish_try(db, wl, dataclasses.replace(outcome, state=S.FAILED, xcoms={"return_value": "2"}))
    assert again.state is None and "changed elsewhere" in (again.error or "")
    assert ti_row(engine, wl.ti_id)["state"] == "success"
    assert xcom_text(engine, wl.dag_run_id, "branch") == "1"


def test_finish_without_start_date_reads_it(engine: Engine, db: RawDb) -> None:
    wl = queued_try(engine, "/nowhere.py", "d", "t", max_tries=1)
    assert claim_try(db, wl, hostname="h", pid=1) is not None
    outcome = TryOutcome(state=S.UP_FOR_RETRY, error="boom", next_retry_delay=timedelta(seconds=60))
    event = finish_try(db, wl, outcome)
    assert event.state == "up_for_retry" and event.next_retry_at is not None
    row = ti_row(engine, wl.ti_id)
    assert row["duration"] is not None and row["duration"] >= 0
    assert aware(row["next_retry_at"]) == aware(row["end_date"]) + timedelta(seconds=60)
    with begin_write(engine) as conn:
        conn.execute(update(task_instance).values(state="running"))  # as if claimed again
    assert finish_try(db, wl, TryOutcome(state=S.FAILED)).state == "failed"
    assert ti_row(engine, wl.ti_id)["next_retry_at"] is None


def test_a_first_try_that_returned_nothing_finishes_in_one_statement(engine: Engine, db: RawDb) -> None:
    wl = queued_try(engine, "/nowhere.py", "d", "t")
    assert wl.try_number == 1
    claim = claim_try(db, wl, hostname="h", pid=1)
    assert claim is not None
    before = Tx.executed
    assert finish_try(db, wl, TryOutcome(state=S.SUCCESS), start_date=claim.start_date).state == "success"
    # the guarded update; its journal row is the trigger's (migration 0010); no XCom delete
    assert Tx.executed - before == 1
    with begin_read(engine) as conn:
        rows = journal.read_after(conn, 0, 10)
    assert [(e.key.ti_id if e.key else None, e.state) for e in rows] == [(wl.ti_id, "success")]


def test_rendered_fields_cost_an_upsert_and_on_a_first_try_a_prune(engine: Engine, db: RawDb) -> None:
    wl = queued_try(engine, "/nowhere.py", "d", "t")
    claim = claim_try(db, wl, hostname="h", pid=1)
    assert claim is not None
    before = Tx.executed
    outcome = TryOutcome(state=S.SUCCESS, rendered_fields='{"bash_command": "echo 1"}')
    assert finish_try(db, wl, outcome, start_date=claim.start_date).state == "success"
    assert Tx.executed - before == 4  # the update, the journal row, the upsert, the prune


def test_a_later_try_replaces_the_xcoms_of_the_try_before(engine: Engine, db: RawDb) -> None:
    wl = queued_try(engine, "/nowhere.py", "d", "t", max_tries=2)
    assert claim_try(db, wl, hostname="h", pid=1) is not None
    first = TryOutcome(state=S.UP_FOR_RETRY, xcoms={"return_value": "1"}, next_retry_delay=timedelta(0))
    assert finish_try(db, wl, first).state == "up_for_retry"
    assert xcom_text(engine, wl.dag_run_id, "t") == "1"
    with begin_write(engine) as conn:  # as if queued and claimed again
        conn.execute(update(task_instance).values(state="running", try_number=2))
    second = dataclasses.replace(wl, try_number=2)
    assert finish_try(db, second, TryOutcome(state=S.SUCCESS)).state == "success"
    assert xcom_text(engine, wl.dag_run_id, "t") is None


def test_finish_claims_the_next_try_in_the_same_commit(engine: Engine, db: RawDb) -> None:
    """Issue 15: a worker's try costs one commit when its finish claims the next try."""
    from windvane.core.store.try_claim import ClaimNext

    first = queued_try(engine, "/nowhere.py", "d", "first")
    second = queued_try(engine, "/nowhere.py", "d", "second")
    gone = queued_try(engine, "/nowhere.py", "d", "gone")
    claim = claim_try(db, first, hostname="h", pid=1)
    assert claim is not None
    commits = db.commits
    then = ClaimNext(second, "h", 7)
    event = finish_try(db, first, TryOutcome(state=S.SUCCESS), start_date=claim.start_date, then=then)
    assert event.state == "success" and db.commits == commits + 1
    assert then.tried and then.claim is not None
    row = ti_row(engine, second.ti_id)
    assert (row["state"], row["pid"]) == ("running", 7)
    assert aware(row["start_date"]) == then.claim.start_date
    # A next try no longer queued for this job is not claimed (the queued guard); the finish stands.
    with begin_write(engine) as conn:
        conn.execute(update(task_instance).where(task_instance.c.id == gone.ti_id).values(state="failed"))
    then = ClaimNext(gone, "h", 7)
    event = finish_try(
        db, second, TryOutcome(state=S.SUCCESS), start_date=then_start(engine, second), then=then
    )
    assert event.state == "success" and then.tried and then.claim is None
    assert ti_row(engine, gone.ti_id)["state"] == "failed"
    # A finish whose own row changed elsewhere still claims the next try.
    third = queued_try(engine, "/nowhere.py", "d", "third")
    then = ClaimNext(third, "h", 7)
    assert finish_try(db, second, TryOutcome(state=S.FAILED), then=then).state is None
    assert then.claim is not None and ti_row(engine, third.ti_id)["state"] == "running"


def then_start(engine: Engine, wl: object) -> datetime:
    return aware(ti_row(engine, wl.ti_id)["start_date"])  # type: ignore[attr-defined]
