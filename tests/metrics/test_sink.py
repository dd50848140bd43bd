"""The sink contract: catalogue-only, exact labels, strict in tests, logged and counted in production;
MultiSink isolates a failing backend. Also the metrics only other code moves (alerts, SLA)."""

from __future__ import annotations

import dataclasses
import logging

import pytest

from tests.metrics.helpers import Backends, StatsdListener
from windvane.metrics import catalogue as m
from windvane.metrics import catalogue_alerting as ma
from windvane.metrics.metric import Metric
from windvane.metrics.multi_sink import MultiSink
from windvane.metrics.sink import Labels, MetricsSink, MetricsUsageError, NullSink, RecordingSink
from windvane.metrics.statsd_sink import StatsdSink
from windvane.metrics.wiring import build_metrics
from windvane.settings import MetricsSettings

STRANGER = dataclasses.replace(m.TI_START)  # same name, not the catalogue's entry


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda s: s.incr(STRANGER, dag_id="d", task_id="t"), "not in the catalogue"),
        (lambda s: s.incr(m.TI_START, dag_id="d"), "takes labels"),
        (lambda s: s.incr(m.TI_START, dag_id="d", task_id="t", run_id="r"), "takes labels"),
        (lambda s: s.gauge(m.TI_START, 1, dag_id="d", task_id="t"), "is a counter, not a gauge"),
        (lambda s: s.incr(m.TI_FINISH, dag_id="d", task_id="t", state="exploded"), "not one of"),
        (lambda s: s.incr(m.TI_START, -1, dag_id="d", task_id="t"), "cannot go down"),
        (
            lambda s: s.observe(m.DAGRUN_DURATION, 1, dag_id="d", state="success", run_type="cron"),
            "not one of",
        ),
    ],
)
def test_misuse_raises_in_strict_mode(call: object, message: str) -> None:
    with pytest.raises(MetricsUsageError, match=message):
        call(RecordingSink())  # type: ignore[operator]


def test_misuse_in_production_is_logged_once_and_counted_on_both_backends(
    backends: Backends, caplog: pytest.LogCaptureFixture
) -> None:
    sink = MultiSink([backends.statsd, backends.prometheus], strict=False)
    with caplog.at_level(logging.DEBUG, "windvane.metrics"):
        sink.incr(m.TI_START, dag_id="only")
        sink.incr(m.TI_START, dag_id="only")
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "takes labels" in errors[0].getMessage()
    assert sink.failures["bad_usage"] == 2
    backends.counter(m.METRICS_ERRORS, 2, backend="sink", reason="bad_usage")
    assert backends.prom(m.TI_START, dag_id="only", task_id="") is None


def test_null_sink_checks_and_drops() -> None:
    sink = NullSink()
    sink.incr(m.TI_START, dag_id="d", task_id="t")
    sink.incr(m.TI_START, dag_id="d")
    assert sink.failures["bad_usage"] == 1
    with pytest.raises(MetricsUsageError):
        NullSink(strict=True).incr(m.TI_START)


def test_recording_sink_helpers() -> None:
    sink = RecordingSink()
    sink.incr(m.TI_FINISH, dag_id="d", task_id="t", state="success")
    sink.incr(m.TI_FINISH, 2, dag_id="d", task_id="t", state="failed")
    assert sink.total(m.TI_FINISH, dag_id="d") == 3
    assert sink.last(m.TI_FINISH, state="failed") == 2
    assert sink.moved == {m.TI_FINISH.name}


class Exploding(MetricsSink):
    backend = "prometheus"

    def _incr(self, metric: Metric, value: float, labels: Labels) -> None:
        raise RuntimeError("backend down")


def test_a_failing_backend_is_isolated_logged_once_and_counted_in_the_others(
    statsd_listener: StatsdListener, caplog: pytest.LogCaptureFixture
) -> None:
    statsd = StatsdSink(host="127.0.0.1", port=statsd_listener.port, datadog_tags=True)
    sink = MultiSink([Exploding(), statsd])
    with caplog.at_level(logging.ERROR, "windvane.metrics"):
        for _ in range(3):
            sink.incr(ma.SLA_MISSED, dag_id="d", task_id="t")
    assert len(caplog.records) == 1
    assert sum(line.value for line in statsd_listener.named("windvane.sla_missed")) == 3
    errors = statsd_listener.named("windvane.metrics.errors")
    assert sum(line.value for line in errors) == 3
    assert errors[0].tags == {"backend": "prometheus", "reason": "emit_failed"}


def test_sla_missed_and_alert_counters_for_the_alerting_code(backends: Backends) -> None:
    backends.sink.incr(ma.SLA_MISSED, dag_id="etl", task_id="load")
    backends.sink.incr(ma.ALERTS_SENT, channel="slack")
    backends.sink.incr(ma.ALERTS_SENT, channel="slack")
    backends.sink.incr(ma.ALERTS_FAILED, channel="email")
    backends.counter(ma.SLA_MISSED, 1, dag_id="etl", task_id="load")
    backends.counter(ma.ALERTS_SENT, 2, channel="slack")
    backends.counter(ma.ALERTS_FAILED, 1, channel="email")
    backends.sink.incr(ma.ALERTS_DEAD, channel="webhook")
    backends.counter(ma.ALERTS_DEAD, 1, channel="webhook")
    backends.sink.incr(ma.ALERTS_HELD_BACK, 3, channel="slack", state="superseded")
    backends.counter(ma.ALERTS_HELD_BACK, 3, channel="slack", state="superseded")
    backends.sink.gauge(ma.ALERTS_OUTBOX_PENDING, 7)
    backends.gauge(ma.ALERTS_OUTBOX_PENDING, 7)
    backends.sink.observe(ma.ALERTS_DELIVERY_LATENCY, 1.5, channel="email")
    backends.sink.observe(ma.ALERTS_DELIVERY_LATENCY, 0.25, channel="email")
    backends.histogram(ma.ALERTS_DELIVERY_LATENCY, 2, 1.75, channel="email")


def test_callback_metrics_for_the_callback_runner(backends: Backends) -> None:
    backends.sink.incr(ma.CALLBACK_FAILURES, kind="dag_failure")
    backends.counter(ma.CALLBACK_FAILURES, 1, kind="dag_failure")
    backends.sink.observe(ma.CALLBACK_DURATION, 0.5, kind="task_retry")
    backends.histogram(ma.CALLBACK_DURATION, 1, 0.5, kind="task_retry")


def test_celery_executor_and_worker_metrics(backends: Backends) -> None:
    from tests.celery_executor.test_metrics import FakeQueues
    from windvane.celery.worker_metrics import WorkerCounts, WorkerMetrics
    from windvane.metrics import catalogue_celery as mc
    from windvane.metrics.executor_queues import ExecutorQueueMetrics

    executor = FakeQueues()
    executor.failures["gpu"] += 2
    ExecutorQueueMetrics(backends.sink, executor).record()
    backends.gauge(mc.EXECUTOR_QUEUE_QUEUED, 2, executor="celery", queue="default")
    backends.gauge(mc.EXECUTOR_QUEUE_RUNNING, 1, executor="celery", queue="gpu")
    backends.counter(mc.EXECUTOR_PUBLISH_FAILURES, 2, executor="celery", queue="gpu")
    WorkerMetrics(backends.sink, 4, counts=lambda: WorkerCounts(running=3, reserved=1, finished=7)).record()
    backends.gauge(mc.CELERY_WORKER_RUNNING, 3)
    backends.gauge(mc.CELERY_WORKER_RESERVED, 1)
    backends.gauge(mc.CELERY_WORKER_CONCURRENCY, 4)
    backends.counter(mc.CELERY_WORKER_TRIES, 7)


def test_a_celery_worker_counts_what_its_pool_processes_add_to_the_shared_counter(backends: Backends) -> None:
    import multiprocessing
    import os

    from sqlalchemy.exc import OperationalError

    from windvane.celery.worker_metrics import WorkerCounts, WorkerMetrics
    from windvane.core.worker import db_errors
    from windvane.metrics import catalogue_celery as mc

    shared = multiprocessing.Value("q", 0)
    metrics = WorkerMetrics(
        backends.sink, 2, counts=lambda: WorkerCounts(0, 0, 0), db_errors=lambda: int(shared.value)
    )
    pid = os.fork()
    if pid == 0:  # a pool process: forked from the worker's main process, as Celery's prefork pool
        code = 1
        try:
            db_errors.share(shared)
            dropped = OperationalError("SELECT 1", {}, Exception("server closed the connection unexpectedly"))
            db_errors.note(dropped)
            db_errors.note(dropped)
            db_errors.note(ValueError("a bug, not an outage"))
            code = 0
        finally:
            os._exit(code)
    assert os.waitpid(pid, 0)[1] == 0
    metrics.record()
    metrics.record()  # counted once
    backends.counter(mc.CELERY_WORKER_DB_TRANSIENT_ERRORS, 2)


def test_a_celery_worker_counts_the_try_host_retirements_its_pool_processes_share(backends: Backends) -> None:
    import os

    from windvane.celery.retirements import SharedRetirements
    from windvane.celery.worker_metrics import WorkerCounts, WorkerMetrics
    from windvane.metrics import catalogue_celery as mc

    shared = SharedRetirements()
    metrics = WorkerMetrics(backends.sink, 2, counts=lambda: WorkerCounts(0, 0, 0), retirements=shared.totals)
    pid = os.fork()
    if pid == 0:  # a pool process: forked from the worker's main process, as Celery's prefork pool
        code = 1
        try:
            shared.add({"environ_changed": 2, "quota": 1})
            code = 0
        finally:
            os._exit(code)
    assert os.waitpid(pid, 0)[1] == 0
    metrics.record()
    metrics.record()  # counted once
    backends.counter(mc.CELERY_WORKER_TRY_HOST_RETIREMENTS, 2, reason="environ_changed")
    backends.counter(mc.CELERY_WORKER_TRY_HOST_RETIREMENTS, 1, reason="quota")


def test_build_info_names_version_and_service(statsd_listener: StatsdListener) -> None:
    from prometheus_client import CollectorRegistry

    from windvane import __version__

    registry = CollectorRegistry()
    settings = MetricsSettings(
        statsd_on=True,
        statsd_host="127.0.0.1",
        statsd_port=statsd_listener.port,
        statsd_datadog_tags=True,
        prometheus_on=True,
    )
    bundle = build_metrics(
        settings, executor_name="local", service="dag-processor", registry=registry, strict=True
    )
    try:
        both = Backends.of(statsd_listener, registry, bundle.sink)
        both.gauge(m.BUILD_INFO, 1, version=__version__, service="dag-processor")
    finally:
        bundle.close()
