"""The schedulers' queueing critical section on the database: the lock and the count in one round
trip (the count sees what the previous holder committed), and queue writes that commit without
waiting for the WAL flush only where that is safe."""

from __future__ import annotations

import threading
import time

import pendulum
import pytest
from sqlalchemy import Engine, text, update

from windvane.core.model.states import TaskInstanceState as S
from windvane.core.scheduler.commit import unjournaled
from windvane.core.scheduler.pass_work import GaveUp, PassWork
from windvane.core.store import occupancy_sql, task_instances
from windvane.core.store.journal_sql import JournalBatch
from windvane.core.store.run_owners import QUEUE_LOCK_KEY
from windvane.core.store.tables import task_instance
from windvane.testing.database import PostgresDatabase
from windvane.testing.rows import insert_run, insert_task_instances

NOW = pendulum.datetime(2024, 3, 10, 12, 0, tz="UTC")


def seed(
    engine: Engine, dag_id: str, states: dict[str, str], *, pool: str = "default_pool", slots: int = 1
) -> dict[str, int]:
    run = insert_run(engine, dag_id, run_id=f"{dag_id}_run")
    ids: dict[str, int] = {}
    for task_id, state in states.items():
        ids |= insert_task_instances(engine, run, dag_id, [task_id], run_id=f"{dag_id}_run", state=state)
    with engine.begin() as conn:
        conn.execute(
            update(task_instance).where(task_instance.c.dag_id == dag_id).values(pool=pool, pool_slots=slots)
        )
    return ids


def test_the_count_takes_queued_and_running_of_the_asked_pools_dags_and_tasks(engine: Engine) -> None:
    seed(
        engine, "a", {"q": "queued", "r": "running", "s": "scheduled", "done": "success"}, pool="p1", slots=2
    )
    seed(engine, "b", {"q": "queued", "r2": "running"}, pool="p2")
    seed(engine, "c", {"q": "queued"}, pool="p3")
    with engine.begin() as conn:
        pools, per_dag, per_task = occupancy_sql.lock_and_count(
            conn, QUEUE_LOCK_KEY, {"p1", "p2"}, {"a", "b"}, {("b", "r2"), ("a", "s")}
        )
    assert pools == {"p1": 4, "p2": 2}  # p3 not asked for; a's scheduled and finished tries hold nothing
    assert per_dag == {"a": 2, "b": 2}
    assert per_task == {("b", "r2"): 1}  # ("a", "s") holds nothing; b's other task not asked for


def test_the_count_sees_what_the_previous_lock_holder_committed(pg_database: PostgresDatabase) -> None:
    """The lock and the count go in one round trip: the count must still run (and take its snapshot)
    only once the lock is granted, or it would miss a try queued by the holder it waited for."""
    pg_database.clean()
    engine = pg_database.engine
    ids = seed(engine, "d", {"t1": "scheduled", "t2": "scheduled"})
    seen: list[dict[str, int]] = []

    def second() -> None:
        with engine.begin() as conn:
            seen.append(occupancy_sql.lock_and_count(conn, QUEUE_LOCK_KEY, {"default_pool"}, set(), set())[0])

    with engine.begin() as first:
        occupancy_sql.lock_and_count(first, QUEUE_LOCK_KEY, {"default_pool"}, set(), set())
        waiter = threading.Thread(target=second)
        waiter.start()
        deadline = time.monotonic() + 30
        with engine.connect() as probe:
            while not probe.execute(
                text(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
                    "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
                )
            ).scalar_one():
                assert time.monotonic() < deadline, "the second section never waited for the lock"
                probe.rollback()
        first.execute(update(task_instance).where(task_instance.c.id == ids["t1"]).values(state="queued"))
    waiter.join(timeout=30)
    assert seen == [{"default_pool": 1}]


def pass_commit_mode(engine: Engine, *, relaxed: bool) -> str:
    ids = seed(engine, f"m{int(relaxed)}", {"t": "none", "u": "scheduled"})
    with engine.begin() as conn:
        task_instances.write_pass(
            conn, {S.SCHEDULED.value: [ids["t"]]}, [ids["u"]], 7, NOW, JournalBatch(NOW), relaxed=relaxed
        )
        return str(conn.execute(text("SHOW synchronous_commit")).scalar_one())


def test_a_pass_that_journals_nothing_commits_without_waiting_for_the_flush(
    pg_database: PostgresDatabase,
) -> None:
    pg_database.clean()
    assert pass_commit_mode(pg_database.engine, relaxed=True) == "off"
    assert pass_commit_mode(pg_database.engine, relaxed=False) == "on"
    with pg_database.engine.connect() as conn:  # SET LOCAL: gone with the transaction
        assert conn.execute(text("SHOW synchronous_commit")).scalar_one() == "on"


@pytest.mark.parametrize(
    ("work", "relaxed"),
    [
        (PassWork(states={1: S.SCHEDULED, 2: S.NONE}), True),
        (PassWork(states={1: S.SCHEDULED, 2: S.UPSTREAM_FAILED}), False),
        (PassWork(states={1: S.SUCCESS}), False),
        (PassWork(gave_up=[GaveUp(1, 1, "failed", None)]), False),
    ],
)
def test_only_passes_without_journal_rows_are_relaxed(work: PassWork, relaxed: bool) -> None:
    assert unjournaled(work) is relaxed
