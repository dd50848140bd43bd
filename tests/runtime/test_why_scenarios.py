"""``explain_task_instance`` on a real database (SQLite and PostgreSQL), next to a real scheduler.

Each scenario drives a scheduler (executor: :class:`HoldingExecutor`, which runs nothing)
into a situation, asks why a task instance does not run, and checks that the scheduler
indeed does not queue it (or, when the answer is "ready", that it does).
"""

from __future__ import annotations

from collections.abc import Iterator

import pendulum
import pytest
from sqlalchemy import Engine, update

from windvane.core.authoring.dag import DAG
from windvane.core.authoring.operators.empty import EmptyOperator
from windvane.core.model.clock import FakeClock
from windvane.core.model.why_types import Explanation
from windvane.core.scheduler.config import SchedulerConfig
from windvane.core.scheduler.loop import Scheduler
from windvane.core.store import jobs, pools
from windvane.core.store.engine import begin_read, begin_write
from windvane.core.store.run_actions import trigger_dag
from windvane.core.store.tables import task_instance as ti_t
from windvane.core.store.why import explain_task_instance
from windvane.errors import NotFoundError
from windvane.testing import HoldingExecutor, register_dag, ti_states

NOW = pendulum.datetime(2024, 3, 10, 12, 0, tz="UTC")
START = pendulum.datetime(2024, 1, 1, tz="UTC")


class Task(EmptyOperator):
    """Goes through the executor (an EmptyOperator would succeed without one)."""

    is_noop = False


class World:
    """A database, a fake clock and a scheduler over a holding executor."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.clock = FakeClock(NOW)
        self.scheduler = Scheduler(
            engine=engine,
            executor=HoldingExecutor(parallelism=8),
            clock=self.clock,
            config=SchedulerConfig(poll_interval_seconds=0.0),
        )

    def add(self, dag: DAG, *, paused: bool = False, runs: int = 1) -> list[str]:
        ser = register_dag(self.engine, dag, now=NOW, paused=paused)
        with begin_write(self.engine) as conn:
            return [trigger_dag(conn, ser, now=NOW, logical_date=START.add(days=i))[1] for i in range(runs)]

    def passes(self, n: int = 2) -> None:
        if not self.scheduler.job_id:
            self.scheduler.start()
        for _ in range(n):
            self.scheduler.run_once()

    def why(self, dag_id: str, task_id: str, run_id: str, *, later: float = 0.0) -> Explanation:
        with begin_read(self.engine) as conn:
            return explain_task_instance(
                conn,
                dag_id,
                task_id,
                run_id,
                now=self.clock.now().add(seconds=later),
                scheduler_threshold=30.0,
            )

    def set_state(self, dag_id: str, task_id: str, state: str, **values: object) -> None:
        with begin_write(self.engine) as conn:
            conn.execute(
                update(ti_t)
                .where(ti_t.c.dag_id == dag_id, ti_t.c.task_id == task_id)
                .values(state=state, **values)
            )

    def state(self, dag_id: str, task_id: str, run_id: str) -> str:
        return ti_states(self.engine, dag_id)[(run_id, task_id)]


@pytest.fixture
def world(engine: Engine) -> Iterator[World]:
    w = World(engine)
    yield w
    if w.scheduler.job_id:
        w.scheduler.shutdown()


def test_upstream_running_and_a_queued_try(world: World) -> None:
    with DAG("etl", schedule=None, start_date=START) as dag:
        Task(task_id="extract") >> Task(task_id="load")
    (run,) = world.add(dag)
    world.passes()
    queued = world.why("etl", "extract", run)
    assert (queued.verdict.value, queued.codes()) == ("queued", ["queued_waiting_for_executor"])
    world.set_state("etl", "extract", "running")
    answer = world.why("etl", "load", run)
    assert answer.codes() == ["upstream_not_done"]
    details = answer.reasons[0].details
    assert details["waiting_for"] == ["extract"]
    assert details["upstream"] == [{"task_id": "extract", "state": "running"}]
    assert details["trigger_rule"] == "all_success"
    assert "extract (running)" in answer.summary
    assert world.why("etl", "extract", run).codes() == ["already_running"]


def test_all_success_with_a_failed_upstream_will_be_upstream_failed(world: World) -> None:
    with DAG("etl", schedule=None, start_date=START) as dag:
        Task(task_id="extract") >> Task(task_id="load")
    (run,) = world.add(dag)
    world.passes()
    world.set_state("etl", "extract", "failed")
    answer = world.why("etl", "load", run)
    assert (answer.verdict.value, answer.codes()) == ("will_not_run", ["trigger_rule_unmet"])
    assert answer.reasons[0].details["will_be"] == "upstream_failed"
    assert "extract (failed)" in answer.summary
    # A scheduler that reads the run (as after a restart) does what the answer said.
    world.scheduler.shutdown()
    world.scheduler = Scheduler(
        engine=world.engine, executor=HoldingExecutor(), clock=world.clock, config=SchedulerConfig()
    )
    world.passes(1)
    assert world.state("etl", "load", run) == "upstream_failed"
    assert world.why("etl", "load", run).codes() == ["already_done"]


def test_a_full_pool_names_the_task_instances_holding_it(world: World) -> None:
    with begin_write(world.engine) as conn:
        pools.set_pool(conn, "db", 2)
    with DAG("etl", schedule=None, start_date=START) as dag:
        Task(task_id="big", pool="db", pool_slots=2, priority_weight=10)
        Task(task_id="small", pool="db")
    (run,) = world.add(dag)
    world.passes()
    assert world.state("etl", "big", run) == "queued"
    answer = world.why("etl", "small", run)
    assert answer.codes() == ["pool_full"]
    details = answer.reasons[0].details
    assert (details["slots"], details["used"], details["needed"]) == (2, 2, 1)
    assert details["holders"] == [
        {"dag_id": "etl", "run_id": run, "task_id": "big", "state": "queued", "pool_slots": 2}
    ]
    assert details["holders_total"] == 1
    assert "taken by etl.big (queued); this task needs 1" in answer.summary
    world.passes()
    assert world.state("etl", "small", run) == "scheduled"  # the scheduler agrees: it waits


def test_max_active_tasks(world: World) -> None:
    with DAG("etl", schedule=None, start_date=START, max_active_tasks=1) as dag:
        Task(task_id="a", priority_weight=5)
        Task(task_id="b")
    (run,) = world.add(dag)
    world.passes()
    answer = world.why("etl", "b", run)
    assert answer.codes() == ["max_active_tasks"]
    assert answer.reasons[0].details == {"active": 1, "max_active_tasks": 1}
    world.passes()
    assert world.state("etl", "b", run) == "scheduled"


def test_max_active_runs(world: World) -> None:
    with DAG("etl", schedule=None, start_date=START, max_active_runs=1) as dag:
        Task(task_id="a")
    first, second = world.add(dag, runs=2)
    world.passes()
    answer = world.why("etl", "a", second)
    assert answer.codes() == ["max_active_runs"]
    assert answer.reasons[0].details["active_runs"] == 1
    assert world.why("etl", "a", first).codes() == ["queued_waiting_for_executor"]


def test_a_paused_dag(world: World) -> None:
    with DAG("etl", schedule=None, start_date=START) as dag:
        Task(task_id="a")
    (run,) = world.add(dag, paused=True)
    world.passes()
    answer = world.why("etl", "a", run)
    assert answer.codes() == ["dag_paused"]
    assert "paused" in answer.summary
    assert world.state("etl", "a", run) == "scheduled"


def test_a_retry_waits_until_its_time(world: World) -> None:
    with DAG("etl", schedule=None, start_date=START) as dag:
        Task(task_id="a", retries=2)
    (run,) = world.add(dag)
    world.passes()
    retry_at = NOW.add(minutes=5)
    world.set_state("etl", "a", "up_for_retry", next_retry_at=retry_at)
    answer = world.why("etl", "a", run)
    assert answer.codes() == ["retry_wait"]
    assert pendulum.parse(answer.reasons[0].details["until"]) == retry_at
    assert "(in 5m 0s)" in answer.summary
    world.clock.advance(301)
    with begin_write(world.engine) as conn:
        jobs.heartbeat(conn, world.scheduler.job_id, world.clock.now())
    assert world.why("etl", "a", run).ready  # its time has come


def test_a_scheduler_that_stopped_heartbeating(world: World) -> None:
    with DAG("etl", schedule=None, start_date=START) as dag:
        Task(task_id="a") >> Task(task_id="b")
    (run,) = world.add(dag)
    world.passes()
    stale = world.why("etl", "b", run, later=120)
    assert stale.codes() == ["scheduler_not_heartbeating", "upstream_not_done"]
    assert stale.reasons[0].details == {"heartbeat_age_seconds": 120.0, "threshold_seconds": 30.0}
    assert "2m 0s" in stale.summary
    world.scheduler.shutdown()
    world.scheduler = Scheduler(engine=world.engine, executor=HoldingExecutor(), clock=world.clock)
    gone = world.why("etl", "b", run)
    assert gone.codes()[0] == "scheduler_not_heartbeating"
    assert gone.reasons[0].details["heartbeat_age_seconds"] is None
    assert gone.summary.startswith("No scheduler is running")


def test_depends_on_past_names_the_previous_run(world: World) -> None:
    with DAG("etl", schedule=None, start_date=START, max_active_runs=2) as dag:
        Task(task_id="a", depends_on_past=True)
    first, second = world.add(dag, runs=2)
    world.passes()
    with begin_write(world.engine) as conn:
        conn.execute(update(ti_t).where(ti_t.c.run_id == first).values(state="failed"))
    answer = world.why("etl", "a", second)
    assert "depends_on_past" in answer.codes()
    assert answer.reasons[answer.codes().index("depends_on_past")].details == {
        "previous_run_id": first,
        "previous_state": "failed",
    }


def test_ready_before_the_scheduler_queues_it(world: World) -> None:
    with DAG("etl", schedule=None, start_date=START) as dag:
        Task(task_id="a")
    (run,) = world.add(dag)
    world.passes(1)  # the run starts; its task is scheduled and queued in the same pass
    world.set_state("etl", "a", "scheduled")
    with begin_write(world.engine) as conn:
        jobs.heartbeat(conn, world.scheduler.job_id, NOW)
    answer = world.why("etl", "a", run)
    assert (answer.verdict.value, answer.reasons) == ("ready", ())
    assert answer.to_dict()["ready"] is True


def test_unknown_dag_task_or_run_is_named(world: World) -> None:
    with DAG("etl", schedule=None, start_date=START) as dag:
        Task(task_id="a")
    (run,) = world.add(dag)
    cases = {
        ("nope", "a", run): "DAG 'nope' does not exist",
        ("etl", "zzz", run): "task 'zzz' not found in DAG 'etl'",
        ("etl", "a", "no_run"): "no_run",
    }
    for (dag_id, task_id, run_id), message in cases.items():
        with pytest.raises(NotFoundError, match=message):
            world.why(dag_id, task_id, run_id)


def test_a_big_pool_names_a_few_holders_and_counts_the_rest(world: World) -> None:
    with begin_write(world.engine) as conn:
        pools.set_pool(conn, "p", 25)
    with DAG("wide", schedule=None, start_date=START) as dag:
        for i in range(26):
            Task(task_id=f"t{i:02d}", pool="p")
    (run,) = world.add(dag)
    with begin_write(world.engine) as conn:
        conn.execute(update(ti_t).where(ti_t.c.task_id != "t25").values(state="running"))
    answer = world.why("wide", "t25", run)
    details = answer.reasons[-1].details
    assert (details["used"], details["holders_total"], len(details["holders"])) == (25, 25, 20)
    assert "taken by wide.t00 (running), wide.t01 (running), wide.t02 (running) and 22 more" in (
        answer.reasons[-1].message
    )
