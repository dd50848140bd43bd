"""Every scheduler metric, moved by a real Scheduler (see scenario.py) on SQLite and PostgreSQL,
asserted on Prometheus (the registry) and on StatsD (a UDP listener), with known values."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from sqlalchemy import Engine

from tests.metrics.helpers import Backends, StatsdListener
from tests.metrics.scenario import EXECUTOR, PARALLELISM, T0, Result, gauge_snapshot, run_scenario
from windvane.core.model.clock import FakeClock
from windvane.core.store.engine import create_db_engine
from windvane.core.store.migrate import migrate
from windvane.metrics import catalogue as m
from windvane.metrics.metric import Metric
from windvane.metrics.wiring import build_metrics
from windvane.settings import MetricsSettings


class Ran:
    def __init__(self, result: Result, both: Backends) -> None:
        self.result, self.both = result, both
        self.passes = result.main_passes + result.backfill_passes
        self.stats = result.probe.stats


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def ran(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ran]:
    """The scenario, run once per database; its metrics are kept, the database is released."""
    engine: Engine
    if request.param == "sqlite":
        engine = create_db_engine(f"sqlite:///{tmp_path_factory.mktemp('scenario') / 'wv.db'}")
        migrate(engine)
    else:
        database: Any = request.getfixturevalue("pg_database")
        database.clean()
        engine = create_db_engine(database.url)
    listener = StatsdListener()
    registry = CollectorRegistry()
    settings = MetricsSettings(
        statsd_on=True,
        statsd_host="127.0.0.1",
        statsd_port=listener.port,
        statsd_datadog_tags=True,
        prometheus_on=True,
    )
    clock = FakeClock(T0)
    bundle = build_metrics(
        settings,
        executor_name=EXECUTOR,
        service="scheduler",
        engine=engine,
        clock=clock,
        registry=registry,
        strict=True,
    )
    assert bundle.prometheus is not None
    both = Backends.of(listener, registry, bundle.sink)
    try:
        result = run_scenario(engine, bundle, clock, registry)
    finally:
        bundle.close()
        engine.dispose()
    listener.drain()
    yield Ran(result, both)
    listener.close()


def test_scenario_ends_as_designed_and_observers_never_failed(ran: Ran) -> None:
    final = {dag_id: set(states.values()) for dag_id, states in ran.result.final_runs.items()}
    assert final == {
        "sched_ok": {"success"},
        "manual_fail": {"failed"},
        "manual_retry": {"success"},
        "timeout_dag": {"failed"},
        "pooled": {"success"},
        "zombie_dag": {"failed"},
        "lost_dag": {"failed"},
        "bf": {"success"},
    }
    assert ran.result.safe.failures == 0


def test_loop_histograms(ran: Ran) -> None:
    b, n = ran.both, ran.passes
    b.histogram(m.LOOP_DURATION, n, 0.0)  # the FakeClock does not move inside a pass
    b.histogram(m.CRITICAL_SECTION, n, 0.0)
    b.histogram(m.LOOP_QUEUED, n, sum(s.queued for s in ran.stats))
    queries = b.prom(m.LOOP_DB_QUERIES, "_sum")
    assert queries is not None and queries >= 2 * n  # at least the poll and a zombie check per pass
    b.histogram(m.LOOP_DB_QUERIES, n, queries)
    seconds = b.prom(m.LOOP_DB_DURATION, "_sum")
    assert seconds is not None and seconds > 0
    b.histogram(m.LOOP_DB_DURATION, n, seconds)


def test_heartbeat_counter_and_timestamp(ran: Ran) -> None:
    beats = [s.heartbeat_at for s in ran.stats if s.heartbeat_at is not None]
    assert len(beats) >= 2
    ran.both.counter(m.SCHEDULER_HEARTBEAT, len(beats))
    ran.both.gauge(m.SCHEDULER_LAST_HEARTBEAT, beats[-1])


def test_runs_created_and_schedule_delay_of_two_seconds(ran: Ran) -> None:
    b = ran.both
    b.counter(m.RUNS_CREATED, 1)
    # Due at 12:00:00, created at 12:00:02: 2 s on the histogram, 2000 ms on the StatsD timer.
    b.histogram(m.SCHEDULE_DELAY, 1, 2.0, dag_id="sched_ok")
    assert [line.value for line in b.wire(m.SCHEDULE_DELAY, dag_id="sched_ok")] == [2000.0]
    assert b.prom(m.SCHEDULE_DELAY, "_bucket", dag_id="sched_ok", le="1.0") == 0
    assert b.prom(m.SCHEDULE_DELAY, "_bucket", dag_id="sched_ok", le="5.0") == 1


def test_first_task_scheduling_delay_by_run_type(ran: Ran) -> None:
    b = ran.both
    b.histogram(m.FIRST_TASK_DELAY, 1, 2.0, dag_id="sched_ok", run_type="scheduled")
    for dag_id in ("manual_fail", "manual_retry", "timeout_dag", "pooled", "zombie_dag", "lost_dag"):
        b.histogram(m.FIRST_TASK_DELAY, 1, 0.0, dag_id=dag_id, run_type="manual")
    b.histogram(m.FIRST_TASK_DELAY, 1, 0.0, dag_id="bf", run_type="backfill")


@pytest.mark.parametrize(
    ("dag_id", "state", "run_type", "seconds"),
    [
        ("sched_ok", "success", "scheduled", 2.0),
        ("manual_fail", "failed", "manual", 1.0),
        ("manual_retry", "success", "manual", 2.0),
        ("timeout_dag", "failed", "manual", 60.0),
        ("pooled", "success", "manual", 3.0),
        ("zombie_dag", "failed", "manual", 1.0),
        ("lost_dag", "failed", "manual", 1.0),
        ("bf", "success", "backfill", 1.0),
    ],
)
def test_dagrun_duration_by_state_and_run_type(
    ran: Ran, dag_id: str, state: str, run_type: str, seconds: float
) -> None:
    ran.both.histogram(m.DAGRUN_DURATION, 1, seconds, dag_id=dag_id, state=state, run_type=run_type)
    lines = ran.both.wire(m.DAGRUN_DURATION, dag_id=dag_id, state=state)
    assert lines[0].name == f"windvane.dagrun.duration.{state}"
    assert lines[0].tags == {"dag_id": dag_id, "run_type": run_type}


def test_ti_start_finish_successes_failures(ran: Ran) -> None:
    b = ran.both
    starts = {
        ("sched_ok", "extract"): 1,
        ("sched_ok", "load"): 1,
        ("manual_fail", "a"): 1,
        ("manual_retry", "t"): 2,
        ("pooled", "p0"): 1,
        ("pooled", "p1"): 1,
        ("pooled", "p2"): 1,
        ("zombie_dag", "z"): 1,
        ("bf", "t"): 1,
    }
    for (dag_id, task_id), count in starts.items():
        b.counter(m.TI_START, count, dag_id=dag_id, task_id=task_id)
    assert b.prom(m.TI_START, dag_id="lost_dag", task_id="l") is None
    assert b.prom(m.TI_START, dag_id="timeout_dag", task_id="stuck") is None
    b.counter(m.TI_FINISH, 1, dag_id="manual_retry", task_id="t", state="up_for_retry")
    b.counter(m.TI_FINISH, 1, dag_id="manual_retry", task_id="t", state="success")
    b.counter(m.TI_FINISH, 1, dag_id="manual_fail", task_id="a", state="failed")
    b.counter(m.TI_FINISH, 1, dag_id="sched_ok", task_id="load", state="success")
    b.counter(m.TI_SUCCESSES, 1, dag_id="manual_retry", task_id="t")
    b.counter(m.TI_FAILURES, 1, dag_id="manual_retry", task_id="t")
    b.counter(m.TI_FAILURES, 1, dag_id="manual_fail", task_id="a")
    b.counter(m.TI_SUCCESSES, 1, dag_id="pooled", task_id="p2")
    assert b.prom(m.TI_FAILURES, dag_id="pooled", task_id="p2") is None


def test_task_durations_queued_and_scheduled(ran: Ran) -> None:
    b = ran.both
    b.histogram(m.TASK_DURATION, 1, 3.0, dag_id="sched_ok", task_id="extract")
    b.histogram(m.TASK_DURATION, 1, 1.5, dag_id="sched_ok", task_id="load")
    b.histogram(m.TASK_DURATION, 2, 1.5, dag_id="manual_retry", task_id="t")
    # Queued at a pass, started 0.25 s after the next pass (one second later).
    b.histogram(m.TASK_QUEUED_DURATION, 2, 2.5, dag_id="sched_ok")
    b.histogram(m.TASK_QUEUED_DURATION, 2, 2.5, dag_id="manual_retry")
    b.histogram(m.TASK_QUEUED_DURATION, 1, 1.25, dag_id="zombie_dag")
    # p1 waited one pass for the pool's only slot, p2 two.
    b.histogram(m.TASK_SCHEDULED_DURATION, 3, 3.0, dag_id="pooled")
    b.histogram(m.TASK_SCHEDULED_DURATION, 2, 0.0, dag_id="sched_ok")


def test_zombies_and_tries_killed_externally(ran: Ran) -> None:
    ran.both.counter(m.ZOMBIES_KILLED, 1, dag_id="zombie_dag", task_id="z")
    ran.both.counter(m.KILLED_EXTERNALLY, 1, dag_id="lost_dag", task_id="l")


def _history(ran: Ran, name: str, **labels: str) -> list[float]:
    key = (name, tuple(sorted(labels.items())))
    return [g[key] for g in ran.result.probe.gauges if key in g]


def _squeeze(values: list[float]) -> list[float]:
    return [v for i, v in enumerate(values) if i == 0 or v != values[i - 1]]


@pytest.mark.parametrize(
    "metric", [m.TASKS_STARVING, m.TASKS_EXECUTABLE, m.TASKS_SCHEDULED, m.DAGRUNS_RUNNING]
)
def test_scheduler_gauges_follow_every_pass_on_both_backends(ran: Ran, metric: Metric) -> None:
    prom = _history(ran, metric.name)
    assert len(prom) == ran.passes
    wire = [line.value for line in ran.both.wire(metric)]
    assert _squeeze(wire) == _squeeze(prom)
    ran.both.gauge(metric, prom[-1])


def test_scheduler_gauges_match_loop_stats(ran: Ran) -> None:
    for stats, gauges in zip(ran.stats, ran.result.probe.gauges, strict=True):
        assert gauges[(m.TASKS_EXECUTABLE.name, ())] == stats.executable
        assert gauges[(m.TASKS_SCHEDULED.name, ())] == stats.ready_waiting
        assert gauges[(m.DAGRUNS_RUNNING.name, ())] == stats.active_runs
        starving = sum(p.starving_tasks for p in (stats.pools or {}).values())
        assert gauges[(m.TASKS_STARVING.name, ())] == starving
    assert max(s.executable for s in ran.stats) >= 6  # the first pass queues one task of most DAGs
    assert max(_history(ran, m.TASKS_STARVING.name)) == 2


@pytest.mark.parametrize(
    ("metric", "final"),
    [
        (m.EXECUTOR_OPEN_SLOTS, PARALLELISM - 2),
        (m.EXECUTOR_QUEUED, 1),
        (m.EXECUTOR_RUNNING, 1),
    ],
)
def test_executor_gauges(ran: Ran, metric: Metric, final: float) -> None:
    # At the end the executor still holds the stuck try (queued) and the zombie's (running).
    prom = _history(ran, metric.name, executor=EXECUTOR)
    assert _squeeze([line.value for line in ran.both.wire(metric, executor=EXECUTOR)]) == _squeeze(prom)
    ran.both.gauge(metric, final, executor=EXECUTOR)


def test_pool_gauges_come_from_one_snapshot_and_add_up(ran: Ran) -> None:
    seen: list[tuple[float, ...]] = []
    for stats, gauges in zip(ran.stats, ran.result.probe.gauges, strict=True):
        for pool, usage in (stats.pools or {}).items():
            values = [
                gauges[(metric.name, (("pool", pool),))]
                for metric in (
                    m.POOL_OPEN_SLOTS,
                    m.POOL_QUEUED_SLOTS,
                    m.POOL_RUNNING_SLOTS,
                    m.POOL_STARVING_TASKS,
                )
            ]
            assert values[0] + values[1] + values[2] == usage.capacity
            if pool == "tiny":
                seen.append(tuple(values))
    # First pass: p0 takes the only slot, p1 and p2 starve; at the end the pool is free.
    assert seen[0] == (0.0, 1.0, 0.0, 2.0)
    assert seen[-1] == (1.0, 0.0, 0.0, 0.0)
    for metric in (m.POOL_OPEN_SLOTS, m.POOL_QUEUED_SLOTS, m.POOL_RUNNING_SLOTS, m.POOL_STARVING_TASKS):
        prom = _history(ran, metric.name, pool="tiny")
        assert _squeeze([line.value for line in ran.both.wire(metric, pool="tiny")]) == _squeeze(prom)
    b = ran.both
    b.gauge(m.POOL_OPEN_SLOTS, 1, pool="tiny")
    b.gauge(m.POOL_QUEUED_SLOTS, 0, pool="tiny")
    b.gauge(m.POOL_RUNNING_SLOTS, 0, pool="tiny")
    b.gauge(m.POOL_STARVING_TASKS, 0, pool="tiny")
    assert 2 in [line.value for line in b.wire(m.POOL_STARVING_TASKS, pool="tiny")]


def test_every_gauge_on_statsd_matches_its_prometheus_history(ran: Ran) -> None:
    final = gauge_snapshot(ran.both.registry)
    for (name, labels), _ in final.items():
        metric = m.BY_NAME[name]
        prom = _history(ran, name, **dict(labels))
        wire = [line.value for line in ran.both.wire(metric, **dict(labels))]
        if metric is m.BUILD_INFO:
            assert wire == [1.0]
            continue
        if not wire and not any(prom):
            continue  # never set (a DAG processor metric)
        assert _squeeze(wire) == _squeeze(prom), name


def test_exposition_has_the_values_and_no_created_series(ran: Ran) -> None:
    text = generate_latest(ran.both.registry).decode()
    assert 'windvane_dagrun_schedule_delay_seconds_sum{dag_id="sched_ok"} 2.0' in text
    assert "windvane_scheduler_dagruns_created_total 1.0" in text
    assert not re.search(r"^\w+_created[{ ]", text, re.M)


def test_a_quarantined_dag_is_counted(engine: Engine, backends: Backends) -> None:
    """A stored DAG whose task row the database refuses (an int over 64 bits) is quarantined."""
    import pendulum

    from windvane.core.authoring.dag import DAG
    from windvane.core.authoring.operators.empty import EmptyOperator
    from windvane.core.scheduler.config import SchedulerConfig
    from windvane.core.scheduler.loop import Scheduler
    from windvane.metrics.subscriber import MetricsObserver
    from windvane.testing import InstantExecutor, register_dag

    now = pendulum.datetime(2024, 3, 10, 12, tz="UTC")
    with DAG("poisoned", schedule="@daily", start_date=pendulum.datetime(2024, 3, 1, tz="UTC")) as dag:
        task = EmptyOperator(task_id="t", weight_rule="absolute")
    task.priority_weight = 2**63  # as a DAG stored before the definition-time ranges may hold it
    register_dag(engine, dag, now=now)
    observer = MetricsObserver(backends.sink, executor_name=EXECUTOR)
    scheduler = Scheduler(
        engine=engine,
        executor=InstantExecutor(2, engine=engine),
        clock=FakeClock(now),
        observer=observer,
        config=SchedulerConfig(poll_interval_seconds=0.0),
    )
    scheduler.start()
    for _ in range(3):
        scheduler.run_once()
    scheduler.shutdown()
    backends.counter(m.DAG_QUARANTINED, 1, dag_id="poisoned")


def test_a_transient_database_error_is_counted_and_ridden_out(engine: Engine, backends: Backends) -> None:
    """A pass that fails on a dropped connection / locked database is retried, not fatal."""
    import sqlite3

    import pendulum

    from windvane.core.scheduler.config import SchedulerConfig
    from windvane.core.scheduler.loop import Scheduler
    from windvane.metrics.subscriber import MetricsObserver
    from windvane.testing import InstantExecutor

    class Flaky(InstantExecutor):
        calls = 0

        def events(self):  # type: ignore[no-untyped-def]
            Flaky.calls += 1
            if Flaky.calls == 2:  # the first pass after start
                raise sqlite3.OperationalError("database is locked")
            return super().events()

    observer = MetricsObserver(backends.sink, executor_name=EXECUTOR)
    scheduler = Scheduler(
        engine=engine,
        executor=Flaky(2, engine=engine),
        clock=FakeClock(pendulum.datetime(2024, 3, 10, 12, tz="UTC")),
        observer=observer,
        config=SchedulerConfig(poll_interval_seconds=0.0),
    )
    scheduler.run(until=lambda s: Flaky.calls >= 4)
    backends.counter(m.DB_TRANSIENT_ERRORS, 1)


def test_the_transient_database_errors_of_the_executors_workers_are_counted(
    engine: Engine, backends: Backends
) -> None:
    """What LocalExecutor workers report with their tries lands in the scheduler's metrics."""
    import pendulum

    from windvane.core.scheduler.config import SchedulerConfig
    from windvane.core.scheduler.loop import Scheduler
    from windvane.metrics.subscriber import MetricsObserver
    from windvane.testing import InstantExecutor

    class Reporting(InstantExecutor):
        reports = [3, 0, 2]

        def take_db_errors(self) -> int:
            return self.reports.pop(0) if self.reports else 0

    scheduler = Scheduler(
        engine=engine,
        executor=Reporting(2, engine=engine),
        clock=FakeClock(pendulum.datetime(2024, 3, 10, 12, tz="UTC")),
        observer=MetricsObserver(backends.sink, executor_name=EXECUTOR),
        config=SchedulerConfig(poll_interval_seconds=0.0),
    )
    scheduler.start()
    for _ in range(4):
        scheduler.run_once()
    scheduler.shutdown()
    backends.counter(m.EXECUTOR_DB_TRANSIENT_ERRORS, 5, executor=EXECUTOR)


def test_a_try_failed_past_task_queued_timeout_is_counted(engine: Engine, backends: Backends) -> None:
    """A try whose message was lost stays queued until ``task_queued_timeout_seconds``, then fails."""
    import pendulum

    from tests.runtime.test_scheduler import Noop
    from tests.runtime.test_stuck_in_queued import LostMessages
    from windvane.core.authoring.dag import DAG
    from windvane.core.scheduler.config import SchedulerConfig
    from windvane.core.scheduler.loop import Scheduler
    from windvane.core.store.engine import begin_write
    from windvane.core.store.run_actions import trigger_dag
    from windvane.metrics.subscriber import MetricsObserver
    from windvane.testing import register_dag

    now = pendulum.datetime(2024, 3, 10, 12, tz="UTC")
    with DAG("lost", schedule=None, start_date=pendulum.datetime(2024, 1, 1)) as dag:
        Noop(task_id="a")
        Noop(task_id="b")
    ser = register_dag(engine, dag, now=now)
    with begin_write(engine) as conn:
        trigger_dag(conn, ser, now=now)
    clock = FakeClock(now)
    scheduler = Scheduler(
        engine=engine,
        executor=LostMessages(),
        clock=clock,
        observer=MetricsObserver(backends.sink, executor_name=EXECUTOR),
        config=SchedulerConfig(
            poll_interval_seconds=0.0, zombie_check_interval_seconds=0.0, task_queued_timeout_seconds=30.0
        ),
    )
    scheduler.start()
    scheduler.run_once()
    scheduler.run_once()
    clock.advance(31)
    scheduler.run_once()
    scheduler.shutdown()
    backends.counter(m.QUEUED_TIMEOUTS, 2)


def test_try_host_retirements_are_counted_by_reason(engine: Engine, backends: Backends) -> None:
    """What a LocalExecutor's workers report with their tries lands in the scheduler's metrics."""
    import pendulum

    from windvane.core.scheduler.config import SchedulerConfig
    from windvane.core.scheduler.loop import Scheduler
    from windvane.metrics.subscriber import MetricsObserver
    from windvane.testing import InstantExecutor

    class Reporting(InstantExecutor):
        reports = [{"globals_changed": 2, "quota": 1}, {}, {"globals_changed": 1}]

        def take_try_host_retirements(self) -> dict[str, int]:
            return self.reports.pop(0) if self.reports else {}

    scheduler = Scheduler(
        engine=engine,
        executor=Reporting(2, engine=engine),
        clock=FakeClock(pendulum.datetime(2024, 3, 10, 12, tz="UTC")),
        observer=MetricsObserver(backends.sink, executor_name=EXECUTOR),
        config=SchedulerConfig(poll_interval_seconds=0.0),
    )
    scheduler.start()
    for _ in range(4):
        scheduler.run_once()
    scheduler.shutdown()
    backends.counter(m.TRY_HOST_RETIREMENTS, 3, executor=EXECUTOR, reason="globals_changed")
    backends.counter(m.TRY_HOST_RETIREMENTS, 1, executor=EXECUTOR, reason="quota")


SENSOR_DAG = """
import os
from datetime import datetime, timezone
from windvane import DAG
from windvane.sensors import BaseSensorOperator

COUNTER = {counter!r}

class Third(BaseSensorOperator):
    def poke(self, context):
        with open(COUNTER, "a") as handle:
            handle.write("x")
        return len(open(COUNTER).read()) >= 3

class Never(BaseSensorOperator):
    def poke(self, context):
        return False

with DAG("sensing", schedule=None, start_date=datetime(2024, 1, 1, tzinfo=timezone.utc)) as dag:
    Third(task_id="third", mode="reschedule", poke_interval=0.05)
    Never(task_id="never", timeout=0)
"""


def test_sensor_pokes_reschedules_and_timeouts(engine: Engine, backends: Backends, tmp_path: Path) -> None:
    """A reschedule-mode sensor done at its third poke, a poke-mode one that times out at once,
    under a real scheduler with a LocalExecutor."""
    from tests.sensors.harness import Runtime
    from windvane.metrics.subscriber import MetricsObserver

    runtime = Runtime(engine, tmp_path)
    runtime.add_file(SENSOR_DAG.format(counter=str(tmp_path / "pokes")))
    run_id = runtime.trigger("sensing")
    runtime.start(observer=MetricsObserver(backends.sink, executor_name=EXECUTOR))
    try:
        assert runtime.wait_run("sensing", run_id) == "failed"
    finally:
        runtime.stop()
    backends.counter(m.SENSOR_POKES, 3, dag_id="sensing", task_id="third")
    backends.counter(m.SENSOR_POKES, 1, dag_id="sensing", task_id="never")
    backends.counter(m.SENSOR_RESCHEDULES, 2, dag_id="sensing", task_id="third")
    backends.counter(m.SENSOR_TIMEOUTS, 1, dag_id="sensing", task_id="never")
