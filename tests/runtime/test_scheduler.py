"""The scheduler against a real database (SQLite and PostgreSQL), with an executor that finishes at once."""

from __future__ import annotations

import json
from datetime import timedelta

import pendulum
import pytest
from sqlalchemy import Engine, update

from windvane.core.authoring.dag import DAG
from windvane.core.authoring.operators.empty import EmptyOperator
from windvane.core.model.clock import FakeClock
from windvane.core.model.events import (
    LifecycleEvent,
    RunCreated,
    RunFinished,
    TryFinished,
    TryLost,
    TryQueued,
    TryScheduled,
    TryStarted,
    TryZombie,
)
from windvane.core.model.states import DagRunState, TaskInstanceState
from windvane.core.model.trigger_rule import TriggerRule
from windvane.core.model.workload import TaskInstanceKey, Workload
from windvane.core.scheduler.config import SchedulerConfig
from windvane.core.scheduler.loop import Scheduler
from windvane.core.scheduler.observer import LoopStats, SafeObserver, SchedulerObserver
from windvane.core.store import pools
from windvane.core.store.engine import begin_write
from windvane.core.store.run_actions import clear_task_instances, trigger_dag
from windvane.core.store.tables import dag_run as dag_run_table
from windvane.core.store.tables import task_instance
from windvane.testing import InstantExecutor, register_dag, run_states, ti_states

NOW = pendulum.datetime(2024, 3, 10, 12, 0, tz="UTC")


class Noop(EmptyOperator):
    """Runs through the executor (EmptyOperator alone would be finished without it)."""

    is_noop = False


class Recorder(SchedulerObserver):
    def __init__(self) -> None:
        self.loops: list[LoopStats] = []

    def loop_finished(self, stats: LoopStats) -> None:
        self.loops.append(stats)


def make_scheduler(
    engine: Engine, executor: InstantExecutor, clock: FakeClock, **config: object
) -> Scheduler:
    options: dict[str, object] = {"poll_interval_seconds": 0.0}
    options.update(config)
    return Scheduler(engine=engine, executor=executor, clock=clock, config=SchedulerConfig(**options))  # type: ignore[arg-type]


def drive(s: Scheduler, done: object, limit: int = 500) -> None:
    s.start()
    for _ in range(limit):
        s.run_once()
        if callable(done) and done():
            return
    raise AssertionError(f"not done after {limit} passes")


def test_manual_run_completes_in_dependency_order(engine: Engine) -> None:
    with DAG("fan", schedule=None, start_date=pendulum.datetime(2024, 1, 1)) as dag:
        start = Noop(task_id="start")
        mids = [Noop(task_id=f"m{i}") for i in range(5)]
        end = Noop(task_id="end")
        start >> mids >> end
    ser = register_dag(engine, dag, now=NOW)
    with begin_write(engine) as conn:
        _, run_id = trigger_dag(conn, ser, now=NOW)
    ex = InstantExecutor(4, engine=engine)
    s = make_scheduler(engine, ex, FakeClock(NOW))
    drive(s, lambda: run_states(engine, "fan")[run_id] == "success")
    order = [w.task_id for w in ex.history]
    assert order[0] == "start" and order[-1] == "end"
    assert set(ti_states(engine, "fan").values()) == {"success"}
    assert all(w.try_number == 1 for w in ex.history)


def test_failure_marks_downstream_upstream_failed_and_run_failed(engine: Engine) -> None:
    with DAG("failing", schedule=None, start_date=pendulum.datetime(2024, 1, 1)) as dag:
        a = Noop(task_id="a")
        b = Noop(task_id="b")
        c = Noop(task_id="c")
        cleanup = Noop(task_id="cleanup", trigger_rule=TriggerRule.ALL_DONE)
        a >> b >> c >> cleanup
    ser = register_dag(engine, dag, now=NOW)
    with begin_write(engine) as conn:
        _, run_id = trigger_dag(conn, ser, now=NOW)

    def outcome(w: Workload) -> str:
        return "failed" if w.task_id == "b" else "success"

    ex = InstantExecutor(4, engine=engine, outcome=outcome)
    s = make_scheduler(engine, ex, FakeClock(NOW))
    drive(
        s,
        lambda: (
            run_states(engine, "failing")[run_id] != "running"
            and run_states(engine, "failing")[run_id] != "queued"
        ),
    )
    states = {t: st for (_, t), st in ti_states(engine, "failing").items()}
    assert states == {"a": "success", "b": "failed", "c": "upstream_failed", "cleanup": "success"}
    # The leaf succeeded, so the run succeeds (Airflow's rule for all_done teardown tasks).
    assert run_states(engine, "failing")[run_id] == "success"


def test_catchup_creates_every_missed_interval_up_to_max_active_runs(engine: Engine) -> None:
    with DAG(
        "daily", schedule="@daily", start_date=pendulum.datetime(2024, 3, 6), catchup=True, max_active_runs=2
    ) as dag:
        Noop(task_id="t")
    register_dag(engine, dag, now=NOW)
    ex = InstantExecutor(4, engine=engine)
    s = make_scheduler(engine, ex, FakeClock(NOW))
    drive(
        s,
        lambda: (
            len(run_states(engine, "daily")) == 4 and set(run_states(engine, "daily").values()) == {"success"}
        ),
    )
    assert sorted(run_states(engine, "daily")) == [
        f"scheduled__2024-03-0{d}T00:00:00+00:00" for d in (6, 7, 8, 9)
    ]


def test_catchup_false_creates_only_the_latest_interval(engine: Engine) -> None:
    with DAG("nocatch", schedule="@daily", start_date=pendulum.datetime(2024, 1, 1), catchup=False) as dag:
        Noop(task_id="t")
    register_dag(engine, dag, now=NOW)
    s = make_scheduler(engine, InstantExecutor(4, engine=engine), FakeClock(NOW))
    drive(s, lambda: set(run_states(engine, "nocatch").values()) == {"success"})
    assert list(run_states(engine, "nocatch")) == ["scheduled__2024-03-09T00:00:00+00:00"]


def test_pool_slots_limit_concurrency(engine: Engine) -> None:
    with begin_write(engine) as conn:
        pools.set_pool(conn, "tiny", 2)
    with DAG("pooled", schedule=None, start_date=pendulum.datetime(2024, 1, 1)) as dag:
        for i in range(6):
            Noop(task_id=f"p{i}", pool="tiny")
        Noop(task_id="big", pool="tiny", pool_slots=2)
    ser = register_dag(engine, dag, now=NOW)
    with begin_write(engine) as conn:
        _, run_id = trigger_dag(conn, ser, now=NOW)
    rec = Recorder()
    s = Scheduler(
        engine=engine,
        executor=InstantExecutor(16, engine=engine),
        clock=FakeClock(NOW),
        config=SchedulerConfig(poll_interval_seconds=0.0),
        observer=rec,
    )
    drive(s, lambda: run_states(engine, "pooled")[run_id] == "success")
    assert max(loop.queued for loop in rec.loops) == 2
    assert any("tiny" in loop.starving_pools for loop in rec.loops)


def test_priority_weight_orders_queueing(engine: Engine) -> None:
    with DAG("prio", schedule=None, start_date=pendulum.datetime(2024, 1, 1)) as dag:
        for i, w in enumerate([1, 50, 10, 100]):
            Noop(task_id=f"t{i}", priority_weight=w)
    ser = register_dag(engine, dag, now=NOW)
    with begin_write(engine) as conn:
        trigger_dag(conn, ser, now=NOW)
    ex = InstantExecutor(1, engine=engine)
    s = make_scheduler(engine, ex, FakeClock(NOW))
    drive(s, lambda: len(ex.history) == 4)
    assert [w.task_id for w in ex.history] == ["t3", "t1", "t2", "t0"]


def test_max_active_tasks_and_max_active_tis_per_dag(engine: Engine) -> None:
    with DAG("limits", schedule=None, start_date=pendulum.datetime(2024, 1, 1), max_active_tasks=3) as dag:
        for i in range(6):
            Noop(task_id=f"t{i}")
        for i in range(3):
            Noop(task_id=f"solo{i}", pool="default_pool", max_active_tis_per_dag=1)
    ser = register_dag(engine, dag, now=NOW)
    with begin_write(engine) as conn:
        trigger_dag(conn, ser, now=NOW)
    rec = Recorder()
    s = Scheduler(
        engine=engine,
        executor=InstantExecutor(32, engine=engine),
        clock=FakeClock(NOW),
        config=SchedulerConfig(poll_interval_seconds=0.0),
        observer=rec,
    )
    drive(s, lambda: set(run_states(engine, "limits").values()) == {"success"})
    assert max(loop.queued for loop in rec.loops) == 3


def test_paused_dag_gets_no_scheduled_runs(engine: Engine) -> None:
    with DAG("paused", schedule="@daily", start_date=pendulum.datetime(2024, 3, 1)) as dag:
        Noop(task_id="t")
    register_dag(engine, dag, now=NOW, paused=True)
    s = make_scheduler(engine, InstantExecutor(4, engine=engine), FakeClock(NOW))
    s.start()
    for _ in range(5):
        s.run_once()
    assert run_states(engine, "paused") == {}


def test_queued_tries_of_a_dead_scheduler_are_reset_and_run_once(engine: Engine) -> None:
    with DAG("orphans", schedule=None, start_date=pendulum.datetime(2024, 1, 1)) as dag:
        Noop(task_id="a")
    ser = register_dag(engine, dag, now=NOW)
    with begin_write(engine) as conn:
        _pk, run_id = trigger_dag(conn, ser, now=NOW)
        conn.execute(update(task_instance).values(state="queued", try_number=1, queued_by_job_id=999))
    ex = InstantExecutor(4, engine=engine)
    s = make_scheduler(engine, ex, FakeClock(NOW))
    drive(s, lambda: run_states(engine, "orphans")[run_id] == "success")
    assert [(w.task_id, w.try_number) for w in ex.history] == [("a", 1)]


def test_clearing_a_task_reruns_it_and_its_downstream(engine: Engine) -> None:
    with DAG("clearme", schedule=None, start_date=pendulum.datetime(2024, 1, 1)) as dag:
        Noop(task_id="a") >> Noop(task_id="b")
    ser = register_dag(engine, dag, now=NOW)
    with begin_write(engine) as conn:
        pk, run_id = trigger_dag(conn, ser, now=NOW)
    ex = InstantExecutor(4, engine=engine)
    s = make_scheduler(engine, ex, FakeClock(NOW))
    drive(s, lambda: run_states(engine, "clearme")[run_id] == "success")
    with begin_write(engine) as conn:
        assert clear_task_instances(conn, ser, pk, task_ids=["a"], downstream=True, now=NOW) == ["a", "b"]
    for _ in range(50):
        s.run_once()
        if run_states(engine, "clearme")[run_id] == "success" and len(ex.history) == 4:
            break
    assert [(w.task_id, w.try_number) for w in ex.history] == [("a", 1), ("b", 1), ("a", 2), ("b", 2)]


@pytest.mark.parametrize("timeout_s", [30])
def test_dagrun_timeout_fails_the_run(engine: Engine, timeout_s: int) -> None:
    with DAG(
        "slow",
        schedule=None,
        start_date=pendulum.datetime(2024, 1, 1),
        dagrun_timeout=timedelta(seconds=timeout_s),
    ) as dag:
        Noop(task_id="a") >> Noop(task_id="b")
    ser = register_dag(engine, dag, now=NOW)
    with begin_write(engine) as conn:
        _, run_id = trigger_dag(conn, ser, now=NOW)
    clock = FakeClock(NOW)
    # "a" never finishes: the executor leaves it queued.
    ex = InstantExecutor(4, engine=engine)
    ex.events = lambda: []  # type: ignore[method-assign]
    s = make_scheduler(engine, ex, clock)
    s.start()
    s.run_once()
    clock.advance(timeout_s + 1)
    s.run_once()
    assert run_states(engine, "slow")[run_id] == "failed"
    assert {t: st for (_, t), st in ti_states(engine, "slow").items()}["b"] == "skipped"


def test_empty_operators_succeed_without_the_executor(engine: Engine) -> None:
    with DAG("empties", schedule=None, start_date=pendulum.datetime(2024, 1, 1)) as dag:
        EmptyOperator(task_id="begin") >> Noop(task_id="work") >> EmptyOperator(task_id="end")
    ser = register_dag(engine, dag, now=NOW)
    with begin_write(engine) as conn:
        _, run_id = trigger_dag(conn, ser, now=NOW)
    ex = InstantExecutor(4, engine=engine)
    s = make_scheduler(engine, ex, FakeClock(NOW))
    drive(s, lambda: run_states(engine, "empties")[run_id] == "success")
    assert [w.task_id for w in ex.history] == ["work"]
    assert set(ti_states(engine, "empties").values()) == {"success"}


def test_retries_wait_for_their_delay_with_exponential_backoff(engine: Engine) -> None:
    with DAG("retry", schedule=None, start_date=pendulum.datetime(2024, 1, 1)) as dag:
        Noop(task_id="flaky", retries=2, retry_delay=timedelta(seconds=10), retry_exponential_backoff=True)
    ser = register_dag(engine, dag, now=NOW)
    with begin_write(engine) as conn:
        _, run_id = trigger_dag(conn, ser, now=NOW)
    clock = FakeClock(NOW)

    def outcome(w: Workload) -> str | tuple[str, float]:
        # tries 1 and 2 fail; the delay doubles (10 s, then 20 s), as the worker computes it
        return ("up_for_retry", 10.0 * 2 ** (w.try_number - 1)) if w.try_number < 3 else "success"

    ex = InstantExecutor(4, engine=engine, outcome=outcome, clock=clock)
    s = make_scheduler(engine, ex, clock)
    s.start()
    for _ in range(3):
        s.run_once()
    assert [w.try_number for w in ex.history] == [1]
    clock.advance(9)
    s.run_once()
    assert len(ex.history) == 1, "retried before retry_delay passed"
    clock.advance(2)
    for _ in range(3):
        s.run_once()
    assert [w.try_number for w in ex.history] == [1, 2]
    clock.advance(21)
    for _ in range(5):
        s.run_once()
    assert [w.try_number for w in ex.history] == [1, 2, 3]
    assert run_states(engine, "retry")[run_id] == "success"


def test_depends_on_past_waits_for_the_previous_run(engine: Engine) -> None:
    with DAG("past", schedule=None, start_date=pendulum.datetime(2024, 1, 1), max_active_runs=2) as dag:
        Noop(task_id="t", depends_on_past=True)
    ser = register_dag(engine, dag, now=NOW)
    with begin_write(engine) as conn:
        _, first = trigger_dag(conn, ser, now=NOW, logical_date=NOW.subtract(days=1))
        _, second = trigger_dag(conn, ser, now=NOW, logical_date=NOW)

    def outcome(w: Workload) -> str:
        return "failed" if w.run_id == first else "success"

    ex = InstantExecutor(4, engine=engine, outcome=outcome)
    s = make_scheduler(engine, ex, FakeClock(NOW))
    s.start()
    for _ in range(10):
        s.run_once()
    assert run_states(engine, "past") == {first: "failed", second: "running"}
    assert [w.run_id for w in ex.history] == [first]


def test_a_running_try_without_heartbeat_is_failed_as_a_zombie(engine: Engine) -> None:
    with DAG("zombie", schedule=None, start_date=pendulum.datetime(2024, 1, 1)) as dag:
        Noop(task_id="lost") >> Noop(task_id="after")
    ser = register_dag(engine, dag, now=NOW)
    with begin_write(engine) as conn:
        _pk, run_id = trigger_dag(conn, ser, now=NOW)
        conn.execute(update(dag_run_table).values(state="running", start_date=NOW))
        conn.execute(
            update(task_instance)
            .where(task_instance.c.task_id == "lost")
            .values(state="running", try_number=1, queued_by_job_id=999, last_heartbeat_at=NOW)
        )
    clock = FakeClock(NOW)
    s = make_scheduler(
        engine,
        InstantExecutor(4, engine=engine),
        clock,
        task_heartbeat_timeout_seconds=60.0,
        zombie_check_interval_seconds=0.0,
    )
    s.start()
    s.run_once()
    assert run_states(engine, "zombie")[run_id] == "running"
    clock.advance(61)
    s.run_once()
    states = {t: st for (_, t), st in ti_states(engine, "zombie").items()}
    assert states == {"lost": "failed", "after": "upstream_failed"}
    assert run_states(engine, "zombie")[run_id] == "failed"


class EventLog(SchedulerObserver):
    """Keeps every lifecycle event, through the one-method-per-type hooks."""

    def __init__(self) -> None:
        self.events: list[LifecycleEvent] = []

    def run_created(self, event: RunCreated) -> None:
        self.events.append(event)

    def run_finished(self, event: RunFinished) -> None:
        self.events.append(event)

    def try_scheduled(self, event: TryScheduled) -> None:
        self.events.append(event)

    def try_queued(self, event: TryQueued) -> None:
        self.events.append(event)

    def try_started(self, event: TryStarted) -> None:
        self.events.append(event)

    def try_finished(self, event: TryFinished) -> None:
        self.events.append(event)

    def try_lost(self, event: TryLost) -> None:
        self.events.append(event)

    def try_zombie(self, event: TryZombie) -> None:
        self.events.append(event)


def test_observers_hear_each_step_of_a_run_as_frozen_serialisable_events(engine: Engine) -> None:
    with DAG("told", schedule=None, start_date=pendulum.datetime(2024, 1, 1)) as dag:
        Noop(task_id="flaky", retries=1, retry_delay=timedelta(0)) >> Noop(
            task_id="after", pool="default_pool"
        )
    ser = register_dag(engine, dag, now=NOW)
    with begin_write(engine) as conn:
        pk, run_id = trigger_dag(conn, ser, now=NOW)
    clock = FakeClock(NOW)

    def outcome(w: Workload) -> str | tuple[str, float]:
        return ("up_for_retry", 0.0) if w.task_id == "flaky" and w.try_number == 1 else "success"

    log = EventLog()
    ex = InstantExecutor(4, engine=engine, outcome=outcome, clock=clock)
    s = Scheduler(
        engine=engine,
        executor=ex,
        clock=clock,
        observer=SafeObserver([log]),
        config=SchedulerConfig(poll_interval_seconds=0.0),
    )
    drive(s, lambda: run_states(engine, "told")[run_id] == "success")
    steps = [
        (type(e).__name__, getattr(e, "key", None) and e.key.task_id, getattr(e, "try_number", None))  # type: ignore[attr-defined]
        for e in log.events
    ]
    assert steps == [
        ("TryScheduled", "flaky", 1),
        ("TryQueued", "flaky", 1),
        ("TryFinished", "flaky", 1),
        ("TryScheduled", "flaky", 2),
        ("TryQueued", "flaky", 2),
        ("TryFinished", "flaky", 2),
        ("TryScheduled", "after", 1),
        ("TryQueued", "after", 1),
        ("TryFinished", "after", 1),
        ("RunFinished", None, None),
    ]
    first, retry = (e for e in log.events if isinstance(e, TryFinished) and e.key.task_id == "flaky")
    assert first.state is TaskInstanceState.UP_FOR_RETRY and first.next_retry_at == NOW
    assert first.key.dag_id == "told" and first.key.run_id == run_id and first.key.dag_run_id == pk
    assert (first.max_tries, first.pool, first.operator, first.started_at) == (
        1,
        "default_pool",
        "Noop",
        None,
    )
    assert retry.state is TaskInstanceState.SUCCESS and retry.next_retry_at is None
    queued = [e for e in log.events if isinstance(e, TryQueued)]
    assert [e.first_of_run for e in queued] == [True, False, False]
    assert all(e.queued_at == NOW and e.run_started_at == NOW for e in queued)
    finished = log.events[-1]
    assert isinstance(finished, RunFinished)
    assert (finished.state, finished.dag_run_id, finished.timed_out) == (DagRunState.SUCCESS, pk, False)
    assert all(LifecycleEvent.from_dict(json.loads(json.dumps(e.to_dict()))) == e for e in log.events)


def test_a_zombie_of_a_run_not_loaded_here_is_announced_with_its_whole_key(engine: Engine) -> None:
    with DAG("far_zombie", schedule=None, start_date=pendulum.datetime(2024, 1, 1)) as dag:
        Noop(task_id="lost", pool="default_pool")
    ser = register_dag(engine, dag, now=NOW)
    with begin_write(engine) as conn:
        pk, run_id = trigger_dag(conn, ser, now=NOW)
        conn.execute(update(dag_run_table).values(state="running", start_date=NOW))
        conn.execute(
            update(task_instance).values(
                state="running", try_number=1, queued_by_job_id=999, last_heartbeat_at=NOW
            )
        )
    clock = FakeClock(NOW.add(seconds=61))
    log = EventLog()
    s = Scheduler(
        engine=engine,
        executor=InstantExecutor(4, engine=engine),
        clock=clock,
        observer=log,
        # A backfill scheduler driving no run: it still fails every zombie it finds.
        config=SchedulerConfig(
            only_runs=[], task_heartbeat_timeout_seconds=60.0, zombie_check_interval_seconds=0.0
        ),
    )
    s.start()
    s.run_once()
    assert not s.runs
    (zombie,) = log.events
    assert isinstance(zombie, TryZombie)
    ti_id = zombie.key.ti_id
    assert zombie.key == TaskInstanceKey(ti_id, pk, "far_zombie", run_id, "lost")
    assert (zombie.state, zombie.try_number, zombie.pool, zombie.at) == (
        TaskInstanceState.FAILED,
        1,
        "default_pool",
        clock.now(),
    )
    assert "no heartbeat for 60 s" in zombie.error
    assert ti_states(engine, "far_zombie") == {(run_id, "lost"): "failed"}


class PoolWatcher(Recorder):
    wants_pool_usage = True
    pool_usage_every = 1.0
    stopped = 0

    def scheduler_stopped(self) -> None:
        self.stopped += 1


def test_the_pool_snapshot_is_taken_at_most_every_pool_usage_every_seconds(engine: Engine) -> None:
    clock = FakeClock(NOW)
    watcher = PoolWatcher()
    s = Scheduler(
        engine=engine,
        executor=InstantExecutor(4, engine=engine),
        clock=clock,
        config=SchedulerConfig(poll_interval_seconds=0.0),
        observer=SafeObserver([watcher, Recorder()]),
    )
    s.start()
    for _ in range(6):
        s.run_once()
        clock.advance(0.4)
    s.shutdown()
    assert watcher.stopped == 1
    # Passes at 0, 0.4, 0.8, 1.2, 1.6, 2.0 s: snapshots at 0, 1.2 (the first pass at least 1 s later).
    assert [loop.pools is not None for loop in watcher.loops] == [True, False, False, True, False, False]
    assert "default_pool" in (watcher.loops[0].pools or {})


def test_a_fan_out_takes_the_most_frequent_pool_snapshot_its_observers_want() -> None:
    every_pass = PoolWatcher()
    every_pass.pool_usage_every = 0.0
    assert SafeObserver([PoolWatcher(), Recorder()]).pool_usage_every == 1.0
    assert SafeObserver([PoolWatcher(), every_pass]).pool_usage_every == 0.0
    assert not SafeObserver([Recorder()]).wants_pool_usage


def test_run_freezes_the_start_up_heap_while_it_loops_and_leaves_a_callers_freeze_alone(
    engine: Engine,
) -> None:
    """The heap held at start-up is out of the collector's reach while the scheduler loops (its full
    collections walk only what the run adds), and back in it afterwards."""
    import gc

    with DAG("frozen", schedule=None, start_date=pendulum.datetime(2024, 1, 1)) as dag:
        Noop(task_id="a")
    ser = register_dag(engine, dag, now=NOW)
    seen: list[int] = []

    def until(s: Scheduler) -> bool:
        seen.append(gc.get_freeze_count())
        return len(seen) >= 2

    # The freeze is process-wide: start from none (an earlier test in this worker may have left one,
    # e.g. a parse pool generator not yet collected) and give back what was there.
    left_by_others = gc.get_freeze_count()
    gc.unfreeze()
    try:
        with begin_write(engine) as conn:
            trigger_dag(conn, ser, now=NOW)
        make_scheduler(engine, InstantExecutor(4, engine=engine), FakeClock(NOW)).run(until=until, timeout=30)
        assert seen and all(count > 0 for count in seen)
        assert gc.get_freeze_count() == 0  # unfrozen when it stopped

        gc.freeze()  # a caller's own freeze (a forked worker's, the processor pool's) is theirs
        frozen = gc.get_freeze_count()
        seen.clear()
        make_scheduler(engine, InstantExecutor(4, engine=engine), FakeClock(NOW)).run(until=until, timeout=30)
        assert gc.get_freeze_count() > frozen // 2  # still frozen (less what the run let go of)
    finally:
        gc.unfreeze()
        if left_by_others:
            gc.freeze()
