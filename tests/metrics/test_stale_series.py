"""Series of what is gone are forgotten: DAG files deleted from the folder, DAGs deactivated, pools
deleted. Each test fails on code that keeps series until the process restarts."""

from __future__ import annotations

import textwrap
from pathlib import Path

from prometheus_client import CollectorRegistry
from sqlalchemy import Engine, update

from tests.metrics.helpers import Backends, StatsdListener
from tests.metrics.test_processor_metrics import GOOD
from tests.metrics.test_wiring import NOW, _run_small_dag
from windvane.core.model.clock import FakeClock
from windvane.core.processor import DagProcessor
from windvane.core.scheduler.observer import LoopStats, PoolUsage
from windvane.core.store.engine import begin_write
from windvane.core.store.tables import dag
from windvane.metrics import catalogue as m
from windvane.metrics.loop_metrics import LoopMetrics
from windvane.metrics.prometheus_sink import PrometheusSink
from windvane.metrics.stale import DagSweeper
from windvane.metrics.wiring import build_metrics
from windvane.settings import MetricsSettings


def series(registry: CollectorRegistry, metric_name: str) -> list[dict[str, str]]:
    """Label sets of the samples of ``metric_name`` (histograms: of their ``_count``)."""
    return [
        dict(s.labels)
        for family in registry.collect()
        for s in family.samples
        if s.name in (metric_name, metric_name + "_count")
    ]


def test_the_series_of_a_deleted_dag_file_go_with_it(
    engine: Engine, tmp_path: Path, statsd_listener: StatsdListener
) -> None:
    for name in ("keep", "sleepy"):
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(GOOD.format(dag_id=name)))
    registry = CollectorRegistry()
    settings = MetricsSettings(
        prometheus_on=True, statsd_on=True, statsd_host="127.0.0.1", statsd_port=statsd_listener.port
    )
    bundle = build_metrics(
        settings,
        executor_name="local",
        service="dag-processor",
        engine=engine,
        dags_folder=str(tmp_path),
        registry=registry,
        strict=True,
    )
    processor = DagProcessor(tmp_path, engine)
    try:
        bundle.record_parse(processor.run_once())
        files = {labels["file"] for labels in series(registry, m.PARSE_LAST_DURATION.name)}
        assert files == {"keep.py", "sleepy.py"}
        (tmp_path / "sleepy.py").unlink()
        statsd_listener.drain().clear()
        bundle.record_parse(processor.run_once())
    finally:
        bundle.close()
    assert series(registry, m.PARSE_LAST_DURATION.name) == [{"file": "keep.py"}]
    assert not [line for line in statsd_listener.drain() if "sleepy" in line.name]  # StatsD: not sent


def test_the_series_of_a_deactivated_dag_are_forgotten_at_the_next_sweep(engine: Engine) -> None:
    registry = CollectorRegistry()
    bundle = build_metrics(
        MetricsSettings(prometheus_on=True),
        executor_name="instant",
        service="scheduler",
        engine=engine,
        clock=FakeClock(NOW),
        registry=registry,
        strict=True,
    )
    observer = bundle.metrics_observer
    assert observer is not None and observer.sweeper is not None
    try:
        _run_small_dag(engine, bundle.observer)
        per_dag = [x for x in m.CATALOGUE if "dag_id" in x.labels]
        before = {x.name for x in per_dag if any(s["dag_id"] == "small" for s in series(registry, x.name))}
        assert {m.TI_START.name, m.TI_FINISH.name, m.DAGRUN_DURATION.name, m.TI_SUCCESSES.name} <= before
        assert observer.sweeper.sweep()  # still active: nothing goes
        assert series(registry, m.TI_START.name) != []
        with begin_write(engine) as conn:
            conn.execute(update(dag).where(dag.c.dag_id == "small").values(is_active=False))
        assert observer.sweeper.sweep()
        for metric in per_dag:
            assert series(registry, metric.name) == [], metric.name
        assert "small" not in observer.series.dag_ids()
    finally:
        bundle.close()


def test_sweeps_are_spaced_and_a_failed_one_is_retried(engine: Engine) -> None:
    now = [0.0]
    sink = PrometheusSink(CollectorRegistry())
    sweeper = DagSweeper(sink, engine, interval=30, monotonic=lambda: now[0])
    assert not sweeper.maybe_sweep()
    now[0] = 30
    assert sweeper.maybe_sweep() and sweeper.sweeps == 1
    now[0] = 59
    assert not sweeper.maybe_sweep()
    broken = DagSweeper(sink, _NoEngine(), interval=0)  # type: ignore[arg-type]
    assert not broken.maybe_sweep() and broken.sweeps == 0  # logged, never raised


def test_a_forgotten_series_comes_back_when_emitted_again_through_an_old_binding() -> None:
    registry = CollectorRegistry()
    sink = PrometheusSink(registry, strict=True)
    counter = sink.bind(m.TI_START, dag_id="d", task_id="t")
    histogram = sink.bind(m.TASK_DURATION, dag_id="d", task_id="t")
    counter.incr()
    histogram.observe(2.0)
    sink.remove(m.TI_START, dag_id="d")
    sink.retain("dag_id", set())
    assert series(registry, m.TI_START.name) == [] and series(registry, m.TASK_DURATION.name) == []
    counter.incr()
    histogram.observe(3.0)
    assert registry.get_sample_value(m.TI_START.name, {"dag_id": "d", "task_id": "t"}) == 1
    labels = {"dag_id": "d", "task_id": "t"}
    assert registry.get_sample_value(m.TASK_DURATION.name + "_sum", labels) == 3.0


def test_deleted_pools_are_forgotten(backends: Backends) -> None:
    loop = LoopMetrics(backends.sink, executor_name="local")
    usage = PoolUsage(capacity=4, queued_slots=1, running_slots=1, starving_tasks=0)
    loop.record(LoopStats(pools={"default_pool": usage, "etl": usage}))
    assert {s["pool"] for s in series(backends.registry, m.POOL_OPEN_SLOTS.name)} == {"default_pool", "etl"}
    loop.record(LoopStats(pools={"default_pool": usage}))
    for metric in (m.POOL_OPEN_SLOTS, m.POOL_QUEUED_SLOTS, m.POOL_RUNNING_SLOTS, m.POOL_STARVING_TASKS):
        assert series(backends.registry, metric.name) == [{"pool": "default_pool"}], metric.name
    loop.record(LoopStats(pools={"default_pool": usage, "etl": usage}))  # re-created: shown again at once
    assert backends.prom(m.POOL_OPEN_SLOTS, pool="etl") == 2


class _NoEngine:
    def connect(self) -> None:
        raise OSError("the database is away")

    def begin(self) -> None:
        raise OSError("the database is away")
