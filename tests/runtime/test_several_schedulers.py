"""Several schedulers on one PostgreSQL database (``SchedulerConfig.coordinated``), in one process.

Two :class:`Scheduler` objects take turns (their passes interleaved in one thread, so every order
is reproducible): runs are created and started once, each task instance is queued once, a pool's
slots and ``max_active_tasks`` hold over both, and a scheduler that stops heartbeating is found
dead by the other, which takes its runs over."""

from __future__ import annotations

from collections import Counter

import pendulum
import pytest
from sqlalchemy import Engine, func, select, update

from windvane.core.authoring.dag import DAG
from windvane.core.authoring.operators.empty import EmptyOperator
from windvane.core.executors.base import Executor
from windvane.core.model.clock import FakeClock
from windvane.core.scheduler.config import SchedulerConfig
from windvane.core.scheduler.loop import Scheduler
from windvane.core.store import pools
from windvane.core.store.engine import begin_read, begin_write
from windvane.core.store.run_actions import trigger_dag
from windvane.core.store.tables import dag_run, job, task_instance
from windvane.testing import InstantExecutor, register_dag
from windvane.testing.database import PostgresDatabase
from windvane.testing.holding import HoldingExecutor

pytestmark = pytest.mark.postgres

NOW = pendulum.datetime(2024, 3, 10, 12, 0, tz="UTC")


class Noop(EmptyOperator):
    is_noop = False


@pytest.fixture
def pg(pg_database: PostgresDatabase) -> Engine:
    pg_database.clean()
    return pg_database.engine


def scheduler(engine: Engine, executor: Executor, clock: FakeClock, **options: object) -> Scheduler:
    config: dict[str, object] = {
        "poll_interval_seconds": 0.0,
        "coordinated": True,
        "health_check_threshold_seconds": 30.0,
    }
    config.update(options)
    return Scheduler(engine=engine, executor=executor, clock=clock, config=SchedulerConfig(**config))  # type: ignore[arg-type]


def fanout(dag_id: str, width: int, **dag_args: object) -> DAG:
    with DAG(dag_id, start_date=pendulum.datetime(2024, 1, 1, tz="UTC"), **dag_args) as dag:  # type: ignore[arg-type]
        first, last = Noop(task_id="first"), Noop(task_id="last")
        for i in range(width):
            first >> Noop(task_id=f"m{i:02d}", pool=str(dag_args.get("tags", ["default_pool"])[0])) >> last
    return dag


def take_turns(schedulers: list[Scheduler], done: object, passes: int = 400) -> None:
    for s in schedulers:
        s.start()
    for _ in range(passes):
        for s in schedulers:
            s.run_once()
        if callable(done) and done():
            return
    raise AssertionError(f"not done after {passes} rounds")


def run_states(engine: Engine) -> Counter[str]:
    with begin_read(engine) as conn:
        return Counter(conn.execute(select(dag_run.c.state)).scalars())


def test_runs_created_and_started_once_each_task_instance_queued_once(pg: Engine) -> None:
    clock = FakeClock(NOW)
    hourly = fanout("hourly", 8, schedule="@hourly", catchup=True, max_active_runs=4)
    hourly.start_date = NOW.subtract(hours=12)
    register_dag(pg, hourly, now=NOW)
    manual = register_dag(pg, fanout("manual", 8, schedule=None, max_active_runs=16), now=NOW)
    with begin_write(pg) as conn:
        for i in range(10):
            trigger_dag(conn, manual, now=NOW, logical_date=NOW.subtract(minutes=i))
    a = scheduler(pg, InstantExecutor(parallelism=4, engine=pg), clock)
    b = scheduler(pg, InstantExecutor(parallelism=4, engine=pg), clock)

    def done() -> bool:
        states = run_states(pg)
        return states == Counter({"success": 22})

    take_turns([a, b], done)
    with begin_read(pg) as conn:
        tries = Counter(conn.execute(select(task_instance.c.try_number)).scalars())
        owners = Counter(conn.execute(select(dag_run.c.scheduled_by_job_id)).scalars())
        logical = (
            conn.execute(select(dag_run.c.logical_date).where(dag_run.c.dag_id == "hourly")).scalars().all()
        )
    assert tries == Counter({1: 22 * 10}), "every task instance queued exactly once"
    assert len(logical) == len(set(logical)) == 12, "each scheduled interval created once"
    assert set(owners) == {a.job_id, b.job_id}, f"both schedulers drove runs: {owners}"
    assert not a.quarantine.held and not b.quarantine.held


def test_pool_and_max_active_tasks_hold_over_both_schedulers(pg: Engine) -> None:
    clock = FakeClock(NOW)
    with begin_write(pg) as conn:
        pools.set_pool(conn, "narrow", 3)
    pooled = register_dag(
        pg, fanout("pooled", 10, schedule=None, max_active_runs=4, tags=["narrow"]), now=NOW
    )
    capped = register_dag(
        pg, fanout("capped", 10, schedule=None, max_active_runs=4, max_active_tasks=5), now=NOW
    )
    # Tries are never started: what is queued stays queued, so every slot taken stays taken.
    a = scheduler(pg, HoldingExecutor(parallelism=50), clock)
    b = scheduler(pg, HoldingExecutor(parallelism=50), clock)
    a.start()
    b.start()
    with begin_write(pg) as conn:
        for ser in (pooled, capped):
            for i in range(4):
                trigger_dag(conn, ser, now=NOW, logical_date=NOW.subtract(minutes=i))
    for _ in range(5):
        a.run_once()
        b.run_once()
    # The "first" tasks run in default_pool: let them succeed so the fan-out becomes ready.
    with begin_write(pg) as conn:
        conn.execute(update(task_instance).where(task_instance.c.task_id == "first").values(state="success"))
    for s in (a, b):
        s._rebuild()  # as after an outage: the book re-reads the rows written behind its back
    for _ in range(10):
        a.run_once()
        b.run_once()
    with begin_read(pg) as conn:
        narrow = conn.execute(
            select(func.sum(task_instance.c.pool_slots)).where(
                task_instance.c.pool == "narrow", task_instance.c.state.in_(["queued", "running"])
            )
        ).scalar_one()
        capped_active = conn.execute(
            select(func.count()).where(
                task_instance.c.dag_id == "capped", task_instance.c.state.in_(["queued", "running"])
            )
        ).scalar_one()
        owners = Counter(conn.execute(select(dag_run.c.scheduled_by_job_id)).scalars())
    assert owners == Counter({a.job_id: 4, b.job_id: 4}), "each drives half of the runs"
    assert narrow == 3, "the pool's 3 slots, not 3 per scheduler"
    assert capped_active == 5, "max_active_tasks=5 over both schedulers"


def test_a_dead_scheduler_is_found_and_its_runs_taken_over(pg: Engine) -> None:
    clock = FakeClock(NOW)
    ser = register_dag(pg, fanout("fan", 6, schedule=None, max_active_runs=8), now=NOW)
    with begin_write(pg) as conn:
        for i in range(4):
            trigger_dag(conn, ser, now=NOW, logical_date=NOW.subtract(minutes=i))
    doomed = scheduler(pg, HoldingExecutor(parallelism=50), clock)
    doomed.start()
    for _ in range(3):
        doomed.run_once()
    with begin_read(pg) as conn:
        held = conn.execute(select(func.count()).where(task_instance.c.state == "queued")).scalar_one()
        owned = conn.execute(
            select(func.count()).where(dag_run.c.scheduled_by_job_id == doomed.job_id)
        ).scalar_one()
    assert held == 4 and owned == 4, "it started every run and queued their first tasks"
    # It stops heartbeating; a survivor starts and, once the threshold has passed, takes over.
    survivor = scheduler(pg, InstantExecutor(parallelism=8, engine=pg), clock)
    survivor.start()
    survivor.run_once()
    assert survivor.runs == {}, "a live scheduler's runs are not taken"
    clock.advance(31)
    with begin_write(pg) as conn:  # the survivor heartbeats at its own pace; the doomed one does not
        conn.execute(update(job).where(job.c.id == survivor.job_id).values(latest_heartbeat=clock.now()))
    for _ in range(50):
        survivor.run_once()
        if run_states(pg) == Counter({"success": 4}):
            break
    assert run_states(pg) == Counter({"success": 4})
    with begin_read(pg) as conn:
        tries = Counter(conn.execute(select(task_instance.c.try_number)).scalars())
        doomed_state = conn.execute(select(job.c.state).where(job.c.id == doomed.job_id)).scalar_one()
        owners = set(conn.execute(select(dag_run.c.scheduled_by_job_id)).scalars())
    assert doomed_state == "failed"
    assert owners == {survivor.job_id}
    assert tries == Counter({1: 4 * 8}), "the queued-but-never-run tries were reset, then run once"
    # The doomed scheduler wakes up: its next heartbeat tells it it was replaced; it rejoins as a new
    # job with an empty book (the survivor drives those runs now) and queues nothing twice.
    old_job = doomed.job_id
    doomed._next_heartbeat = 0.0
    doomed.run_once()
    assert doomed.job_id != old_job and doomed.runs == {}
    doomed.run_once()
    with begin_read(pg) as conn:
        assert Counter(conn.execute(select(task_instance.c.try_number)).scalars()) == tries
