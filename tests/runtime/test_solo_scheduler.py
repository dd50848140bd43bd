"""A coordinated scheduler alone on PostgreSQL queues without the queueing lock (the solo lock,
``core/store/solo_lock.py``): a second one queues nothing until the first has seen it and let go,
tries the solo scheduler does not drive still count against the limits, and a lost session loses the
right to queue with it."""

from __future__ import annotations

from collections.abc import Iterator

import pendulum
import pytest
from sqlalchemy import Engine, func, select, update
from sqlalchemy.exc import DBAPIError

from windvane.core.authoring.dag import DAG
from windvane.core.authoring.operators.empty import EmptyOperator
from windvane.core.model.clock import FakeClock
from windvane.core.scheduler.config import SchedulerConfig
from windvane.core.scheduler.loop import Scheduler
from windvane.core.store import pools, solo_lock
from windvane.core.store.engine import begin_read, begin_write
from windvane.core.store.run_actions import trigger_dag
from windvane.core.store.tables import dag_run, task_instance
from windvane.testing import register_dag
from windvane.testing.database import PostgresDatabase
from windvane.testing.holding import HoldingExecutor
from windvane.testing.rows import insert_run, insert_task_instances

pytestmark = pytest.mark.postgres

NOW = pendulum.datetime(2024, 3, 10, 12, 0, tz="UTC")
POLL = 10.0


class Noop(EmptyOperator):
    is_noop = False


_started: list[Scheduler] = []


@pytest.fixture
def pg(pg_database: PostgresDatabase) -> Iterator[Engine]:
    pg_database.clean()
    yield pg_database.engine
    while _started:
        _started.pop().shutdown()  # releases a solo lock still held


def scheduler(engine: Engine, clock: FakeClock) -> Scheduler:
    config = SchedulerConfig(
        poll_interval_seconds=POLL, coordinated=True, health_check_threshold_seconds=30.0
    )
    s = Scheduler(engine=engine, executor=HoldingExecutor(parallelism=50), clock=clock, config=config)
    _started.append(s)
    return s


def fanout(dag_id: str, width: int, pool: str = "default_pool") -> DAG:
    with DAG(dag_id, start_date=pendulum.datetime(2024, 1, 1, tz="UTC"), schedule=None) as dag:
        first = Noop(task_id="first")
        for i in range(width):
            first >> Noop(task_id=f"m{i:02d}", pool=pool)
    return dag


def queued_of(engine: Engine, run_pk: int) -> int:
    with begin_read(engine) as conn:
        q = select(func.count()).where(
            task_instance.c.dag_run_id == run_pk, task_instance.c.state == "queued"
        )
        return int(conn.execute(q).scalar_one())


def run_pks(engine: Engine) -> list[int]:
    with begin_read(engine) as conn:
        return [int(i) for i in conn.execute(select(dag_run.c.id).order_by(dag_run.c.id)).scalars()]


def test_a_newcomer_queues_nothing_until_the_solo_scheduler_has_let_go(pg: Engine) -> None:
    clock = FakeClock(NOW)
    ser = register_dag(pg, fanout("fan", 2), now=NOW)
    with begin_write(pg) as conn:
        trigger_dag(conn, ser, now=NOW, logical_date=NOW)
    a = scheduler(pg, clock)
    a.start()
    assert a._writer.solo, "alone: it took the solo lock"
    a.run_once()
    first_run = run_pks(pg)[0]
    assert queued_of(pg, first_run) == 1
    with begin_write(pg) as conn:
        trigger_dag(conn, ser, now=NOW, logical_date=NOW.subtract(minutes=1))
    b = scheduler(pg, clock)
    b.start()  # starts the second run (its share); not alone, so not solo
    second_run = run_pks(pg)[1]
    assert not b._writer.solo
    for _ in range(3):
        b.run_once()
        a.run_once()  # a polls only every POLL seconds: it has not looked for others yet
    assert a._writer.solo
    assert queued_of(pg, second_run) == 0, "the solo lock is held: the newcomer queues nothing"
    clock.advance(POLL)
    a.run_once()  # its poll sees the newcomer
    assert not a._writer.solo
    b.run_once()
    assert queued_of(pg, second_run) == 1, "then the newcomer queues under the queueing lock"


def test_tries_of_runs_the_solo_scheduler_does_not_drive_hold_their_slots(pg: Engine) -> None:
    """Regression: a solo scheduler's own counts miss tries of runs it does not drive (here a
    backfill's, which it never claims); the pool must still hold over them."""
    clock = FakeClock(NOW)
    with begin_write(pg) as conn:
        pools.set_pool(conn, "narrow", 3)
    other = insert_run(pg, "other", run_id="backfill__x", run_type="backfill")
    tis = insert_task_instances(pg, other, "other", ["o1", "o2"], run_id="backfill__x", state="running")
    with begin_write(pg) as conn:
        conn.execute(update(task_instance).where(task_instance.c.id.in_(tis.values())).values(pool="narrow"))
    ser = register_dag(pg, fanout("fan", 6, pool="narrow"), now=NOW)
    with begin_write(pg) as conn:
        trigger_dag(conn, ser, now=NOW, logical_date=NOW)
    a = scheduler(pg, clock)
    a.start()
    a.run_once()
    with begin_write(pg) as conn:
        conn.execute(update(task_instance).where(task_instance.c.task_id == "first").values(state="success"))
    a._rebuild()  # the book re-reads the row written behind its back (and takes the solo lock again)
    for _ in range(3):
        a.run_once()
    assert a._writer.solo
    with begin_read(pg) as conn:
        narrow = conn.execute(
            select(func.sum(task_instance.c.pool_slots)).where(
                task_instance.c.pool == "narrow", task_instance.c.state.in_(["queued", "running"])
            )
        ).scalar_one()
    assert narrow == 3, "2 slots held by the backfill's tries + 1 queued, not 2 + 3"


def test_a_solo_scheduler_whose_session_was_ended_cannot_queue(pg: Engine) -> None:
    """The solo lock lives in the session every solo write goes through: once that session is gone
    (a survivor ended it), the next write fails instead of reconnecting and queueing unlocked."""
    clock = FakeClock(NOW)
    ser = register_dag(pg, fanout("fan", 2), now=NOW)
    with begin_write(pg) as conn:
        trigger_dag(conn, ser, now=NOW, logical_date=NOW)
    a = scheduler(pg, clock)
    a.start()
    assert a._writer.solo
    with begin_write(pg) as conn:
        assert solo_lock.end_sessions_of(conn, [a.job_id]) == 1
    with pytest.raises(DBAPIError):
        a.run_once()
    assert not a._writer.solo
    assert queued_of(pg, run_pks(pg)[0]) == 0


def test_what_others_hold_is_read_per_run_not_as_a_difference_with_a_lagging_book(pg: Engine) -> None:
    """Regression: read as "database minus book", the backfill's slot vanished while the solo
    scheduler had not yet heard that two of its own tries finished (its book counted them still)."""
    clock = FakeClock(NOW)
    with begin_write(pg) as conn:
        pools.set_pool(conn, "narrow", 4)
    other = insert_run(pg, "other", run_id="backfill__x", run_type="backfill")
    tis = insert_task_instances(pg, other, "other", ["o1"], run_id="backfill__x", state="running")
    with begin_write(pg) as conn:
        conn.execute(update(task_instance).where(task_instance.c.id.in_(tis.values())).values(pool="narrow"))
    ser = register_dag(pg, fanout("fan", 6, pool="narrow"), now=NOW)
    with begin_write(pg) as conn:
        trigger_dag(conn, ser, now=NOW, logical_date=NOW)
    a = scheduler(pg, clock)
    a.start()
    a.run_once()
    with begin_write(pg) as conn:
        conn.execute(update(task_instance).where(task_instance.c.task_id == "first").values(state="success"))
    a._rebuild()
    a.run_once()  # queues 3 of its own in narrow: 3 + the backfill's 1
    with begin_write(pg) as conn:  # two of them finish; the scheduler has not heard yet
        mine = select(task_instance.c.id).where(
            task_instance.c.dag_id == "fan", task_instance.c.state == "queued"
        )
        done = list(conn.execute(mine.limit(2)).scalars())
        conn.execute(update(task_instance).where(task_instance.c.id.in_(done)).values(state="success"))
    assert a.coordinator is not None and a._writer.solo
    with begin_read(pg) as conn:
        a.coordinator.review_solo(conn, a._writer, a.book)
    assert a.coordinator.foreign.pool_slots_used["narrow"] == 1, "the backfill's try still holds its slot"
