"""Slot leases (``core/scheduler/leasing.py``): two coordinated schedulers on PostgreSQL queue within
leases of the global limits, with no queueing critical section per pass; the limits hold while the
leases are re-balanced; a dead scheduler's lease is reclaimed by the one that finds it dead."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pendulum
import psycopg
import pytest
from sqlalchemy import Engine, func, select, update
from sqlalchemy.exc import DBAPIError

from windvane.core.authoring.dag import DAG
from windvane.core.authoring.operators.empty import EmptyOperator
from windvane.core.executors.base import Executor
from windvane.core.model.clock import FakeClock
from windvane.core.scheduler.config import SchedulerConfig
from windvane.core.scheduler.loop import Scheduler
from windvane.core.store import occupancy_sql, pools
from windvane.core.store.engine import begin_read, begin_write
from windvane.core.store.lease_sql import POOL
from windvane.core.store.run_actions import trigger_dag
from windvane.core.store.tables import dag_run, job, scheduler_lease, task_instance
from windvane.testing import InstantExecutor, register_dag
from windvane.testing.database import PostgresDatabase
from windvane.testing.holding import HoldingExecutor

pytestmark = pytest.mark.postgres

NOW = pendulum.datetime(2024, 3, 10, 12, 0, tz="UTC")

_started: list[Scheduler] = []


class Noop(EmptyOperator):
    is_noop = False


@pytest.fixture
def pg(pg_database: PostgresDatabase) -> Iterator[Engine]:
    pg_database.clean()
    yield pg_database.engine
    while _started:
        _started.pop().shutdown()


def scheduler(engine: Engine, executor: Executor, clock: FakeClock) -> Scheduler:
    config = SchedulerConfig(poll_interval_seconds=0.0, coordinated=True, health_check_threshold_seconds=30.0)
    s = Scheduler(engine=engine, executor=executor, clock=clock, config=config)
    _started.append(s)
    return s


def wide(dag_id: str, width: int, pool: str, **dag_args: object) -> DAG:
    with DAG(dag_id, start_date=pendulum.datetime(2024, 1, 1, tz="UTC"), schedule=None, **dag_args) as dag:  # type: ignore[arg-type]
        for i in range(width):
            Noop(task_id=f"t{i:02d}", pool=pool)
    return dag


def in_flight(engine: Engine, **where: object) -> int:
    with begin_read(engine) as conn:
        q = select(func.coalesce(func.sum(task_instance.c.pool_slots), 0)).where(
            task_instance.c.state.in_(["queued", "running"]),
            *(task_instance.c[name] == value for name, value in where.items()),
        )
        return int(conn.execute(q).scalar_one())


def pool_leases(engine: Engine, pool: str) -> dict[int, int]:
    with begin_read(engine) as conn:
        q = select(scheduler_lease.c.job_id, scheduler_lease.c.slots).where(
            scheduler_lease.c.kind == POOL, scheduler_lease.c.name == pool
        )
        return {int(j): int(s) for j, s in conn.execute(q).all() if s}


def trigger(engine: Engine, ser: object, runs: int, first: int = 0) -> None:
    with begin_write(engine) as conn:
        for i in range(first, first + runs):
            trigger_dag(conn, ser, now=NOW, logical_date=NOW.subtract(minutes=i))  # type: ignore[arg-type]


def test_limits_hold_while_leases_are_rebalanced_and_no_pass_takes_the_queueing_lock(
    pg: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_section(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("a pass took the queueing critical section")

    monkeypatch.setattr(occupancy_sql, "queue_section", no_section)
    clock = FakeClock(NOW)
    with begin_write(pg) as conn:
        pools.set_pool(conn, "narrow", 5)
    pooled = register_dag(pg, wide("pooled", 12, "narrow", max_active_runs=8), now=NOW)
    capped = register_dag(
        pg, wide("capped", 12, "default_pool", max_active_runs=8, max_active_tasks=7), now=NOW
    )
    a = scheduler(pg, InstantExecutor(parallelism=50, engine=pg), clock)
    b = scheduler(pg, InstantExecutor(parallelism=50, engine=pg), clock)
    a.start()
    b.start()
    trigger(pg, pooled, 4)
    trigger(pg, capped, 4)
    queued_by: Counter[int] = Counter()
    for _ in range(200):
        for s in (a, b):
            s.run_once()
            assert in_flight(pg, pool="narrow") <= 5, "the pool's 5 slots over both schedulers"
            assert in_flight(pg, dag_id="capped") <= 7, "max_active_tasks=7 over both schedulers"
            assert sum(pool_leases(pg, "narrow").values()) <= 5
        with begin_read(pg) as conn:
            states = Counter(conn.execute(select(dag_run.c.state)).scalars())
        if states == Counter({"success": 8}):
            break
    assert states == Counter({"success": 8})
    with begin_read(pg) as conn:
        tries = Counter(conn.execute(select(task_instance.c.try_number)).scalars())
        for owner, count in conn.execute(
            select(task_instance.c.queued_by_job_id, func.count()).group_by(task_instance.c.queued_by_job_id)
        ).all():
            queued_by[int(owner)] = int(count)
    assert tries == Counter({1: 8 * 12}), "every task instance queued exactly once"
    assert set(queued_by) == {a.job_id, b.job_id}, "both schedulers queued, each within its lease"
    assert a.coordinator is not None and a.coordinator.leaser.reviews > 0


def test_a_busy_scheduler_shrinks_its_lease_for_a_newcomer(pg: Engine) -> None:
    clock = FakeClock(NOW)
    with begin_write(pg) as conn:
        pools.set_pool(conn, "narrow", 4)
    ser = register_dag(pg, wide("fan", 10, "narrow", max_active_runs=8), now=NOW)
    trigger(pg, ser, 1)
    a = scheduler(pg, HoldingExecutor(parallelism=50), clock)
    a.start()  # alone: solo, all 4 slots
    a.run_once()
    assert a._writer.solo and in_flight(pg, pool="narrow") == 4
    trigger(pg, ser, 1, first=1)
    b = scheduler(pg, HoldingExecutor(parallelism=50), clock)
    b.start()
    for _ in range(3):
        a.run_once()
        b.run_once()
    assert a._writer.leased and b._writer.leased
    leases = pool_leases(pg, "narrow")
    assert leases.get(a.job_id) == 2, "its fair share, though its 4 tries still hold their slots"
    assert not leases.get(b.job_id), "nothing for the newcomer until the slots are given back"
    assert in_flight(pg, pool="narrow") == 4
    # Two of a's tries finish: the newcomer's lease grows into the freed slots, no further.
    with begin_write(pg) as conn:
        done = conn.execute(
            select(task_instance.c.id).where(task_instance.c.state == "queued").limit(2)
        ).scalars()
        conn.execute(update(task_instance).where(task_instance.c.id.in_(list(done))).values(state="success"))
    for s in (a, b):
        s._rebuild()  # the book re-reads the rows written behind its back
    for _ in range(3):
        a.run_once()
        b.run_once()
    assert pool_leases(pg, "narrow") == {a.job_id: 2, b.job_id: 2}
    assert in_flight(pg, pool="narrow") == 4
    assert in_flight(pg, pool="narrow", queued_by_job_id=b.job_id) == 2


def test_a_dead_schedulers_lease_is_reclaimed(pg: Engine) -> None:
    clock = FakeClock(NOW)
    with begin_write(pg) as conn:
        pools.set_pool(conn, "narrow", 4)
    ser = register_dag(pg, wide("fan", 10, "narrow", max_active_runs=8), now=NOW)
    doomed = scheduler(pg, HoldingExecutor(parallelism=50), clock)
    survivor = scheduler(pg, HoldingExecutor(parallelism=50), clock)
    doomed.start()
    survivor.start()
    trigger(pg, ser, 2)
    for _ in range(3):
        doomed.run_once()
        survivor.run_once()
    # The doomed one re-balanced first: it queued into all 4 slots, then shrank its lease to its
    # fair share; its tries never finish here, so the survivor's lease stays empty.
    assert pool_leases(pg, "narrow") == {doomed.job_id: 2}
    assert in_flight(pg, pool="narrow", queued_by_job_id=doomed.job_id) == 4
    # The doomed one stops heartbeating with its lease held; once found dead, its lease and queued
    # tries are free, its session (which could still queue within the lease) is ended.
    clock.advance(31)
    with begin_write(pg) as conn:
        conn.execute(update(job).where(job.c.id == survivor.job_id).values(latest_heartbeat=clock.now()))
    survivor._next_take_over = 0.0
    for _ in range(3):
        survivor.run_once()
    with begin_read(pg) as conn:
        assert conn.execute(select(job.c.state).where(job.c.id == doomed.job_id)).scalar_one() == "failed"
        rows = conn.execute(
            select(func.count()).where(scheduler_lease.c.job_id == doomed.job_id)
        ).scalar_one()
    assert rows == 0, "the dead scheduler's lease rows are deleted"
    assert survivor._writer.solo, "alone now: it queues without leases"
    assert in_flight(pg, pool="narrow") == 4
    assert in_flight(pg, pool="narrow", queued_by_job_id=survivor.job_id) == 4
    doomed._next_heartbeat = float("inf")  # it wakes up before its heartbeat tells it it was replaced
    with pytest.raises((DBAPIError, psycopg.Error)):  # its session was ended
        doomed.run_once()
    assert in_flight(pg, pool="narrow") == 4
