"""Every write site journals each state change once, in its own transaction, and only when it changed."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import timedelta

import pendulum
import pytest
from sqlalchemy import Engine, update

from windvane.core.authoring.dag import DAG
from windvane.core.authoring.operators.empty import EmptyOperator
from windvane.core.executors.orphans import record_orphan
from windvane.core.model.clock import FakeClock
from windvane.core.model.outcome import TryOutcome
from windvane.core.model.states import DagRunState
from windvane.core.model.states import TaskInstanceState as S
from windvane.core.model.trigger_rule import TriggerRule
from windvane.core.model.workload import Workload
from windvane.core.store import dag_runs, journal, task_instances
from windvane.core.store.engine import begin_read, begin_write
from windvane.core.store.journal_sql import JournalBatch, JournalKind
from windvane.core.store.raw import RawDb
from windvane.core.store.run_actions import clear_task_instances, create_backfill, trigger_dag
from windvane.core.store.sql_bridge import dbapi_tx
from windvane.core.store.tables import dag_run, task_instance
from windvane.core.store.try_claim import claim_try
from windvane.core.store.try_lifecycle import finish_try
from windvane.testing import InstantExecutor, queued_try, register_dag

from .test_scheduler import NOW, Noop, drive, make_scheduler

TRY, RUN, CLEARED = JournalKind.TRY_FINISHED, JournalKind.RUN_FINISHED, JournalKind.CLEARED


def entries(engine: Engine) -> list[journal.JournalEntry]:
    with begin_read(engine) as conn:
        return journal.read_after(conn, 0, 1000)


def summary(engine: Engine) -> list[tuple[str, str | None, str, str | None]]:
    """(kind, task_id, state, reason) of every entry, oldest first."""
    return [(e.kind.value, e.key.task_id if e.key else None, e.state, e.reason) for e in entries(engine)]


@pytest.fixture
def db(engine: Engine) -> Iterator[RawDb]:
    raw = RawDb(engine.url.render_as_string(hide_password=False))
    yield raw
    raw.close()


# -- the worker's finish ---------------------------------------------------------------------
def test_a_worker_finish_journals_the_try_and_the_branch_skips_once(engine: Engine, db: RawDb) -> None:
    wl = queued_try(engine, "/nowhere.py", "d", "branch", others=["left", "right"], max_tries=2)
    assert claim_try(db, wl, hostname="worker-7", pid=1) is not None
    outcome = TryOutcome(state=S.SUCCESS, skip_task_ids=("right",))
    assert finish_try(db, wl, outcome).state == "success"
    assert finish_try(db, wl, TryOutcome(state=S.FAILED)).state is None  # the guard: nothing changed
    first, skip = entries(engine)
    assert summary(engine) == [
        ("try_finished", "branch", "success", None),
        ("try_finished", "right", "skipped", "branch"),
    ]
    assert first.key == wl.key and (first.try_number, first.max_tries, first.hostname) == (1, 2, "worker-7")
    assert skip.key is not None and skip.key.dag_run_id == wl.dag_run_id and skip.try_number == 0


def test_a_failed_try_journals_its_error_and_retry_time(engine: Engine, db: RawDb) -> None:
    wl = queued_try(engine, "/nowhere.py", "d", "t", max_tries=1)
    assert claim_try(db, wl, hostname="h", pid=1) is not None
    error = "Traceback ...\n" + "frame\n" * 2000 + "ValueError: kaboom"
    outcome = TryOutcome(state=S.UP_FOR_RETRY, error=error, next_retry_delay=timedelta(seconds=60))
    event = finish_try(db, wl, outcome)
    [entry] = entries(engine)
    assert (entry.state, entry.try_number, entry.max_tries) == ("up_for_retry", 1, 1)
    assert entry.error is not None and len(entry.error) <= 4000 and entry.error.endswith("ValueError: kaboom")
    assert entry.next_retry_at is not None and entry.next_retry_at.timestamp() == event.next_retry_at


def test_the_try_of_a_dead_worker_is_journaled_with_its_reason(engine: Engine, db: RawDb) -> None:
    wl = queued_try(engine, "/nowhere.py", "d", "t")
    unclaimed = record_orphan(db, wl, None, -9)  # not claimed yet: nothing to record
    assert unclaimed.state is None and entries(engine) == []
    assert claim_try(db, wl, hostname="h", pid=1) is not None
    assert record_orphan(db, wl, None, -9).state == "failed"
    assert summary(engine) == [("try_finished", "t", "failed", "worker_died")]
    assert "killed by signal 9" in (entries(engine)[0].error or "")


# -- the scheduler -------------------------------------------------------------------------
def test_the_scheduler_journals_decided_states_failures_and_the_run(engine: Engine) -> None:
    with DAG("failing", schedule=None, start_date=pendulum.datetime(2024, 1, 1)) as dag:
        begin = EmptyOperator(task_id="begin")
        a, b, c = Noop(task_id="a"), Noop(task_id="b"), Noop(task_id="c")
        cleanup = EmptyOperator(task_id="cleanup", trigger_rule=TriggerRule.ALL_DONE)
        begin >> a >> b >> c >> cleanup
    ser = register_dag(engine, dag, now=NOW)
    with begin_write(engine) as conn:
        _, run_id = trigger_dag(conn, ser, now=NOW)

    def outcome(w: Workload) -> str:
        return "failed" if w.task_id == "b" else "success"

    clock = FakeClock(NOW)
    s = make_scheduler(engine, InstantExecutor(4, engine=engine, outcome=outcome, clock=clock), clock)
    drive(s, lambda: any(e.kind is RUN for e in entries(engine)))
    for _ in range(3):
        s.run_once()  # nothing more happens
    assert summary(engine) == [
        ("try_finished", "begin", "success", None),  # an EmptyOperator, decided by the scheduler
        ("try_finished", "a", "success", None),
        ("try_finished", "b", "failed", None),
        ("try_finished", "c", "upstream_failed", None),
        ("try_finished", "cleanup", "success", None),
        ("run_finished", None, "success", None),  # its leaf succeeded
    ]
    run = entries(engine)[-1]
    assert (run.dag_id, run.run_id, run.key, run.try_number) == ("failing", run_id, None, None)
    assert all(e.recorded_at == NOW for e in entries(engine))


def test_retries_are_journaled_once_per_try(engine: Engine) -> None:
    with DAG("retry", schedule=None, start_date=pendulum.datetime(2024, 1, 1)) as dag:
        Noop(task_id="flaky", retries=1, retry_delay=timedelta(seconds=10))
    ser = register_dag(engine, dag, now=NOW)
    with begin_write(engine) as conn:
        trigger_dag(conn, ser, now=NOW)
    clock = FakeClock(NOW)

    def outcome(w: Workload) -> str | tuple[str, float]:
        return ("up_for_retry", 10.0) if w.try_number == 1 else "success"

    s = make_scheduler(engine, InstantExecutor(4, engine=engine, outcome=outcome, clock=clock), clock)
    s.start()
    for _ in range(3):
        s.run_once()
    clock.advance(11)
    for _ in range(5):
        s.run_once()
    found = [(e.kind.value, e.state, e.try_number) for e in entries(engine)]
    assert found == [
        ("try_finished", "up_for_retry", 1),
        ("try_finished", "success", 2),
        ("run_finished", "success", None),
    ]
    assert entries(engine)[0].next_retry_at == NOW.add(seconds=10)


def test_a_zombie_is_journaled_with_its_reason(engine: Engine) -> None:
    with DAG("zombie", schedule=None, start_date=pendulum.datetime(2024, 1, 1)) as dag:
        Noop(task_id="lost") >> Noop(task_id="after")
    ser = register_dag(engine, dag, now=NOW)
    with begin_write(engine) as conn:
        trigger_dag(conn, ser, now=NOW)
        conn.execute(update(dag_run).values(state="running", start_date=NOW))
        conn.execute(
            update(task_instance)
            .where(task_instance.c.task_id == "lost")
            .values(
                state="running", try_number=1, queued_by_job_id=999, last_heartbeat_at=NOW, hostname="gone"
            )
        )
    clock = FakeClock(NOW)
    ex = InstantExecutor(4, engine=engine)
    s = make_scheduler(
        engine, ex, clock, task_heartbeat_timeout_seconds=60.0, zombie_check_interval_seconds=0.0
    )
    s.start()
    s.run_once()
    clock.advance(61)
    s.run_once()
    assert summary(engine) == [
        ("try_finished", "lost", "failed", "zombie"),
        ("try_finished", "after", "upstream_failed", None),
        ("run_finished", None, "failed", None),
    ]
    lost = entries(engine)[0]
    assert lost.hostname == "gone" and "no heartbeat for 60 s" in (lost.error or "")


def test_a_run_timeout_journals_the_run_and_the_tries_it_skipped(engine: Engine) -> None:
    with DAG(
        "slow", schedule=None, start_date=pendulum.datetime(2024, 1, 1), dagrun_timeout=timedelta(seconds=30)
    ) as dag:
        Noop(task_id="a") >> Noop(task_id="b")
        Noop(task_id="c")
    ser = register_dag(engine, dag, now=NOW)
    with begin_write(engine) as conn:
        _, run_id = trigger_dag(conn, ser, now=NOW)
    clock = FakeClock(NOW)
    ex = InstantExecutor(4, engine=engine, outcome=lambda w: "success")
    ex.events = lambda: []  # type: ignore[method-assign]  # "a" and "c" stay queued
    s = make_scheduler(engine, ex, clock)
    s.start()
    s.run_once()
    clock.advance(31)
    s.run_once()
    found = sorted(summary(engine)[:-1])
    assert found == [
        ("try_finished", "a", "skipped", "dagrun_timeout"),
        ("try_finished", "b", "skipped", "dagrun_timeout"),
        ("try_finished", "c", "skipped", "dagrun_timeout"),
    ]
    assert summary(engine)[-1] == ("run_finished", None, "failed", "dagrun_timeout")
    assert entries(engine)[-1].run_id == run_id


def test_a_guarded_update_that_changes_nothing_journals_nothing(engine: Engine) -> None:
    with DAG("g", schedule=None, start_date=pendulum.datetime(2024, 1, 1)) as dag:
        Noop(task_id="t")
    ser = register_dag(engine, dag, now=NOW)
    with begin_write(engine) as conn:
        pk, _ = trigger_dag(conn, ser, now=NOW)
        conn.execute(update(task_instance).values(state="success"))
        ti_id = conn.execute(task_instance.select()).first().id  # type: ignore[union-attr]
        batch = JournalBatch(NOW)
        task_instances.set_states(conn, {"failed": [ti_id]}, NOW, batch)  # finished already
        task_instances.fail_tries(conn, [(ti_id, 1, "failed", None)], "gone", NOW, batch)  # not running
        assert not dag_runs.finish_run(conn, pk, DagRunState.FAILED, NOW, batch)  # queued, not running
        assert len(batch) == 0
        batch.write(dbapi_tx(conn))
    assert entries(engine) == []


def test_the_instant_executor_journals_only_tries_still_queued_for_it(engine: Engine) -> None:
    wl = queued_try(engine, "/nowhere.py", "d", "t")
    gone = queued_try(engine, "/nowhere.py", "d", "other", job_id=123)
    ex = InstantExecutor(2, engine=engine)
    ex.queue(wl)
    ex.queue(dataclasses.replace(gone, job_id=124))  # queued by another job: not ours
    events = ex.events()
    assert [e.state for e in events] == ["success", None]  # a failed claim: not run, not recorded
    assert summary(engine) == [("try_finished", "t", "success", None)]


# -- clears ----------------------------------------------------------------------------------
def test_a_clear_journals_one_row_per_cleared_task_instance(engine: Engine) -> None:
    with DAG("clearme", schedule=None, start_date=pendulum.datetime(2024, 1, 1)) as dag:
        Noop(task_id="a") >> Noop(task_id="b")
        Noop(task_id="busy")
    ser = register_dag(engine, dag, now=NOW)
    with begin_write(engine) as conn:
        pk, _ = trigger_dag(conn, ser, now=NOW)
        conn.execute(update(task_instance).values(state="failed", try_number=1))
        conn.execute(update(task_instance).where(task_instance.c.task_id == "busy").values(state="running"))
    with begin_write(engine) as conn:
        assert clear_task_instances(conn, ser, pk, now=NOW) == ["a", "b"]
    assert sorted(summary(engine)) == [("cleared", "a", "none", None), ("cleared", "b", "none", None)]
    assert {e.max_tries for e in entries(engine)} == {1}


def test_a_backfill_rerun_journals_its_clears_once(engine: Engine) -> None:
    with DAG("bf", schedule="@daily", start_date=pendulum.datetime(2024, 1, 1)) as dag:
        Noop(task_id="a")
    ser = register_dag(engine, dag, now=NOW)
    start, end = pendulum.datetime(2024, 1, 1, tz="UTC"), pendulum.datetime(2024, 1, 2, tz="UTC")
    with begin_write(engine) as conn:
        create_backfill(conn, ser, start=start, end=end, now=NOW)
        conn.execute(update(dag_run).values(state="failed"))
        conn.execute(update(task_instance).values(state="failed", try_number=1))
    with begin_write(engine) as conn:
        plan = create_backfill(conn, ser, start=start, end=end, now=NOW, rerun_failed=True)
    assert len(plan.rerun) == 2
    assert summary(engine) == [("cleared", "a", "none", None)] * 2
