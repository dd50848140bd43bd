"""The per-task series of the scheduler's metrics: bound once per label set, on first use, forgotten
with their DAG, light on the garbage collector, and isolated from a failing backend."""

from __future__ import annotations

import gc
import logging
from datetime import UTC, datetime, timedelta

import pytest

from tests.metrics.helpers import Backends, StatsdListener
from tests.metrics.test_sink import Exploding
from windvane.core.model.events import TryFinished, TryStarted
from windvane.core.model.states import TaskInstanceState as S
from windvane.core.model.workload import TaskInstanceKey
from windvane.metrics import catalogue as m
from windvane.metrics.metric import Metric
from windvane.metrics.multi_sink import MultiSink
from windvane.metrics.sink import Bound, MetricsSink
from windvane.metrics.statsd_sink import StatsdSink
from windvane.metrics.subscriber import MetricsObserver

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def key(task_id: str = "t", dag_id: str = "d", run: int = 1) -> TaskInstanceKey:
    return TaskInstanceKey(run * 1000, run, dag_id, f"run{run}", task_id)


def started(k: TaskInstanceKey) -> TryStarted:
    return TryStarted(k, 1, 1, "default_pool", "PythonOperator", T0, T0 - timedelta(seconds=2))


def finished(k: TaskInstanceKey, state: S = S.SUCCESS) -> TryFinished:
    return TryFinished(
        k, 1, 1, "default_pool", "PythonOperator", state, T0 + timedelta(seconds=3), T0, None, None
    )


class CountingSink(MultiSink):
    """Counts :meth:`bind` calls per metric name."""

    def __init__(self, sinks: list[MetricsSink]) -> None:
        super().__init__(sinks, strict=True)
        self.bound: dict[str, int] = {}

    def bind(self, metric: Metric, **labels: str) -> Bound:
        self.bound[metric.name] = self.bound.get(metric.name, 0) + 1
        return super().bind(metric, **labels)


def test_each_label_set_is_bound_once_and_only_when_first_emitted(backends: Backends) -> None:
    sink = CountingSink([backends.statsd, backends.prometheus])
    observer = MetricsObserver(sink, executor_name="local")
    sink.bound.clear()  # the per-pass metrics are bound when the observer is built
    for run in (1, 2, 3):
        observer.try_started(started(key(run=run)))
        observer.try_finished(finished(key(run=run)))
    observer.sink.flush()
    assert sink.bound == {
        m.TI_START.name: 1,
        m.TASK_QUEUED_DURATION.name: 1,
        m.TASK_DURATION.name: 1,
        m.TI_FINISH.name: 1,
        m.TI_SUCCESSES.name: 1,
    }
    backends.sink = sink
    backends.counter(m.TI_START, 3, dag_id="d", task_id="t")
    backends.counter(m.TI_FINISH, 3, dag_id="d", task_id="t", state="success")
    backends.counter(m.TI_SUCCESSES, 3, dag_id="d", task_id="t")
    backends.histogram(m.TASK_DURATION, 3, 9.0, dag_id="d", task_id="t")
    # Never failed: no failure series exported (not even at 0).
    assert backends.prom(m.TI_FAILURES, dag_id="d", task_id="t") is None


def test_a_task_finishing_in_several_states_gets_a_series_per_state(backends: Backends) -> None:
    observer = MetricsObserver(backends.sink, executor_name="local")
    for run, state in enumerate([S.SUCCESS, S.FAILED, S.SUCCESS, S.UP_FOR_RETRY, S.FAILED], 1):
        observer.try_finished(finished(key(run=run), state))
    backends.sink.flush()
    backends.counter(m.TI_FINISH, 2, dag_id="d", task_id="t", state="success")
    backends.counter(m.TI_FINISH, 2, dag_id="d", task_id="t", state="failed")
    backends.counter(m.TI_FINISH, 1, dag_id="d", task_id="t", state="up_for_retry")
    backends.counter(m.TI_FAILURES, 3, dag_id="d", task_id="t")
    backends.counter(m.TI_SUCCESSES, 2, dag_id="d", task_id="t")


def test_a_forgotten_dag_gets_fresh_series_when_it_comes_back(backends: Backends) -> None:
    observer = MetricsObserver(backends.sink, executor_name="local")
    observer.try_finished(finished(key(dag_id="gone")))
    observer.try_finished(finished(key(dag_id="kept")))
    backends.sink.retain("dag_id", {"kept"})
    observer.forget_dags(frozenset({"kept"}))
    assert observer.series.dag_ids() == {"kept"}
    assert backends.prom(m.TI_SUCCESSES, dag_id="gone", task_id="t") is None
    observer.try_finished(finished(key(dag_id="gone", run=2)))
    assert backends.prom(m.TI_SUCCESSES, dag_id="gone", task_id="t") == 1
    assert backends.prom(m.TI_SUCCESSES, dag_id="kept", task_id="t") == 1


def test_a_bound_series_keeps_few_objects_for_the_garbage_collector(statsd_listener: StatsdListener) -> None:
    """Every object kept per series is walked by each full collection of the scheduler's heap; the
    closures (functions, cells, label dicts) the sinks used to keep made ~26 per series of both
    backends, now ~5."""
    both = Backends(statsd_listener)
    metrics = [(m.TI_START, {}), (m.TASK_DURATION, {}), (m.TI_FINISH, {"state": "success"})]
    for metric, extra in metrics:  # warm the caches (StatsD tag keys of each metric)
        both.sink.bind(metric, dag_id="warm", task_id="t", **extra)
    kept_alive = []
    gc.collect()
    gc.disable()
    try:
        before = len(gc.get_objects())
        for i in range(200):
            for metric, extra in metrics:
                kept_alive.append(both.sink.bind(metric, dag_id="d", task_id=f"t{i}", **extra))
        gc.collect()  # tuples of plain strings (the series' keys) are untracked by a collection
        per_series = (len(gc.get_objects()) - before - 1) / len(kept_alive)
    finally:
        gc.enable()
        both.close()
    assert per_series <= 8, per_series


def test_a_bound_series_still_reaches_the_other_backend_when_one_raises(
    statsd_listener: StatsdListener, caplog: pytest.LogCaptureFixture
) -> None:
    statsd = StatsdSink(host="127.0.0.1", port=statsd_listener.port, datadog_tags=True)
    sink = MultiSink([Exploding(), statsd])
    observer = MetricsObserver(sink, executor_name="local")
    with caplog.at_level(logging.ERROR, "windvane.metrics"):
        for run in (1, 2):
            observer.try_finished(finished(key(run=run)))
    sink.flush()
    assert len(caplog.records) == 1
    assert sum(line.value for line in statsd_listener.named("windvane.ti_successes")) == 2
    errors = statsd_listener.named("windvane.metrics.errors")
    assert sum(line.value for line in errors) >= 2
    assert errors[0].tags == {"backend": "prometheus", "reason": "emit_failed"}
