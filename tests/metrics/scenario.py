"""A real Scheduler over DAGs built to succeed, fail, retry, time out, starve a pool, turn zombie
and lose a try; then a backfill. The executor follows a script, stamping events with the test's
FakeClock, so every duration the metrics report is known in advance.

Timeline (one pass per second, the clock starts 2 s after a scheduled run fell due):

* ``sched_ok`` (@hourly): run created at T0 (schedule delay 2 s), ``extract`` (3 s) then ``load`` (1.5 s).
* ``manual_fail``: ``a`` fails (2 s), ``b`` is upstream_failed.
* ``manual_retry``: ``t`` is up_for_retry (0.5 s), then succeeds (1 s).
* ``timeout_dag``: ``stuck`` never starts; the run times out after 60 s.
* ``pooled``: ``p0..p2`` (0.5 s each) share pool ``tiny`` (1 slot): two starve at first.
* ``zombie_dag``: ``z`` starts and stops heartbeating. ``lost_dag``: ``l``'s row is changed elsewhere.
* ``bf``: a backfill run of one task (1 s), driven by a second scheduler in backfill mode.

Workers report ``running`` 0.25 s after the pass that follows the queueing.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

import pendulum
from prometheus_client import CollectorRegistry
from sqlalchemy import Engine

from windvane.core.authoring.dag import DAG
from windvane.core.authoring.operators.empty import EmptyOperator
from windvane.core.model.clock import FakeClock
from windvane.core.model.states import DagRunType
from windvane.core.model.workload import Workload
from windvane.core.scheduler.config import SchedulerConfig
from windvane.core.scheduler.loop import Scheduler
from windvane.core.scheduler.observer import LoopStats, SafeObserver, SchedulerObserver
from windvane.core.store import pools
from windvane.core.store.dags import set_next_dagrun
from windvane.core.store.engine import begin_write
from windvane.core.store.run_actions import trigger_dag
from windvane.metrics.metric import Kind
from windvane.metrics.wiring import MetricsBundle
from windvane.testing import HOLD, LOST, ZOMBIE, ScriptedExecutor, Step, register_dag, run_states

T0 = pendulum.datetime(2024, 3, 10, 12, 0, 2, tz="UTC")
BACKFILL_START = T0.subtract(minutes=10)
QUEUED_DELAY = 0.25
PARALLELISM = 8
EXECUTOR = "scripted"


class Noop(EmptyOperator):
    is_noop = False


PLAN: dict[tuple[str, str], Callable[[Workload], Step]] = {
    ("sched_ok", "extract"): lambda w: Step("success", 3.0),
    ("sched_ok", "load"): lambda w: Step("success", 1.5),
    ("manual_fail", "a"): lambda w: Step("failed", 2.0),
    ("manual_retry", "t"): lambda w: Step("up_for_retry", 0.5) if w.try_number == 1 else Step("success", 1.0),
    ("timeout_dag", "stuck"): lambda w: Step(HOLD),
    ("zombie_dag", "z"): lambda w: Step(ZOMBIE),
    ("lost_dag", "l"): lambda w: Step(LOST),
}


def plan(w: Workload) -> Step:
    if w.dag_id == "pooled":
        return Step("success", 0.5)
    return PLAN.get((w.dag_id, w.task_id), _default)(w)


def _default(w: Workload) -> Step:
    return Step()


def scripted(engine: Engine, clock: FakeClock) -> ScriptedExecutor:
    """The executor of the scenario: follows :func:`plan`; workers report ``running`` after
    :data:`QUEUED_DELAY`."""
    return ScriptedExecutor(PARALLELISM, engine=engine, clock=clock, script=plan, start_delay=QUEUED_DELAY)


GaugeKey = tuple[str, tuple[tuple[str, str], ...]]


@dataclass
class Probe(SchedulerObserver):
    """After the metrics observer: keeps each pass's stats and every gauge as Prometheus shows it."""

    registry: CollectorRegistry
    stats: list[LoopStats] = field(default_factory=list)
    gauges: list[dict[GaugeKey, float]] = field(default_factory=list)

    def loop_finished(self, stats: LoopStats) -> None:
        self.stats.append(copy.deepcopy(stats))
        self.gauges.append(gauge_snapshot(self.registry))


def gauge_snapshot(registry: CollectorRegistry) -> dict[GaugeKey, float]:
    out = {}
    for family in registry.collect():
        if family.type == Kind.GAUGE.value:
            for sample in family.samples:
                out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


@dataclass
class Result:
    probe: Probe
    safe: SafeObserver
    main_passes: int
    backfill_passes: int
    final_runs: dict[str, dict[str, str]]


def _dags() -> list[DAG]:
    start = pendulum.datetime(2024, 1, 1, tz="UTC")
    dags = []
    with DAG(
        "sched_ok", schedule="@hourly", start_date=pendulum.datetime(2024, 3, 10, tz="UTC"), catchup=False
    ) as dag:
        Noop(task_id="extract") >> Noop(task_id="load")
    dags.append(dag)
    with DAG("manual_fail", schedule=None, start_date=start) as dag:
        Noop(task_id="a") >> Noop(task_id="b")
    dags.append(dag)
    with DAG("manual_retry", schedule=None, start_date=start) as dag:
        Noop(task_id="t", retries=1, retry_delay=timedelta(0))
    dags.append(dag)
    with DAG("timeout_dag", schedule=None, start_date=start, dagrun_timeout=timedelta(seconds=60)) as dag:
        Noop(task_id="stuck")
    dags.append(dag)
    with DAG("pooled", schedule=None, start_date=start) as dag:
        for i in range(3):
            Noop(task_id=f"p{i}", pool="tiny")
    dags.append(dag)
    for dag_id, task_id in (("zombie_dag", "z"), ("lost_dag", "l")):
        with DAG(dag_id, schedule=None, start_date=start) as dag:
            Noop(task_id=task_id)
        dags.append(dag)
    return dags


def _drive(s: Scheduler, clock: FakeClock, done: Callable[[], bool], limit: int = 200) -> int:
    s.start()
    for passes in range(1, limit + 1):
        s.run_once()
        if done():
            return passes
        clock.advance(1)
    raise AssertionError(f"scenario not done after {limit} passes")


def run_scenario(
    engine: Engine, bundle: MetricsBundle, clock: FakeClock, registry: CollectorRegistry
) -> Result:
    assert bundle.metrics_observer is not None
    probe = Probe(registry)
    safe = SafeObserver([bundle.metrics_observer, probe])
    config = {
        "poll_interval_seconds": 0.0,
        "heartbeat_seconds": 5.0,
        "zombie_check_interval_seconds": 0.0,
        "task_heartbeat_timeout_seconds": 30.0,
        "parallelism": PARALLELISM,
    }

    # -- phase B: a backfill run, driven alone -------------------------------------------------
    clock.set(BACKFILL_START)
    with DAG("bf", schedule="@daily", start_date=pendulum.datetime(2024, 3, 1, tz="UTC")) as bf:
        Noop(task_id="t")
    ser = register_dag(engine, bf, now=clock.now())
    with begin_write(engine) as conn:
        pk, _ = trigger_dag(
            conn,
            ser,
            now=clock.now(),
            logical_date=pendulum.datetime(2024, 3, 5, tz="UTC"),
            run_type=DagRunType.BACKFILL,
        )
    backfill = Scheduler(
        engine=engine,
        executor=scripted(engine, clock),
        clock=clock,
        observer=safe,
        config=SchedulerConfig(only_runs=[pk], run_types=("backfill",), **config),
    )  # type: ignore[arg-type]
    backfill_passes = _drive(backfill, clock, lambda: set(run_states(engine, "bf").values()) == {"success"})
    backfill.shutdown()
    with begin_write(engine) as conn:  # bf gets no scheduled runs in phase A
        set_next_dagrun(conn, "bf", None, None, None, None)

    # -- phase A: everything else --------------------------------------------------------------
    clock.set(T0)
    with begin_write(engine) as conn:
        pools.set_pool(conn, "tiny", 1)
    for dag in _dags():
        ser = register_dag(engine, dag, now=T0)
        if dag.dag_id != "sched_ok":
            with begin_write(engine) as conn:
                trigger_dag(conn, ser, now=T0)
    ids = [d.dag_id for d in _dags()]
    main = Scheduler(
        engine=engine,
        executor=scripted(engine, clock),
        clock=clock,
        observer=safe,
        config=SchedulerConfig(**config),
    )  # type: ignore[arg-type]

    def finished() -> bool:
        states = [run_states(engine, dag_id) for dag_id in ids]
        return all(s and set(s.values()) <= {"success", "failed"} for s in states)

    main_passes = _drive(main, clock, finished)
    main.shutdown()
    final = {dag_id: run_states(engine, dag_id) for dag_id in [*ids, "bf"]}
    return Result(probe, safe, main_passes, backfill_passes, final)
