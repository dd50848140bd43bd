"""Each process's /metrics exports only the metrics of the services it runs (plus build info and the
metrics' own errors): scraped from the registry ``build_metrics`` gives each kind of process, driven
the way that process drives it. The DAG processor serves no scheduler heartbeat at 0."""

from __future__ import annotations

import logging
import re
import textwrap
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from sqlalchemy import Engine

from tests.metrics.test_processor_metrics import GOOD
from tests.metrics.test_wiring import NOW, _run_small_dag
from windvane import __version__
from windvane.core.model.clock import FakeClock
from windvane.core.processor import DagProcessor
from windvane.metrics import catalogue as m
from windvane.metrics import catalogue_alerting as ma
from windvane.metrics.metric import PROCESS_SERVICES, Kind, Metric, Owner, default_owner, exported_by
from windvane.metrics.prometheus_sink import PrometheusSink
from windvane.metrics.wiring import MetricsBundle, build_metrics
from windvane.settings import MetricsSettings

_TYPE = re.compile(r"^# TYPE (\S+) (\S+)$", re.M)


def exported(registry: CollectorRegistry) -> set[str]:
    """Catalogue names of the families a scrape of ``registry`` shows."""
    return {name for name, _ in _TYPE.findall(generate_latest(registry).decode())}


def owned(process: str) -> set[str]:
    return {x.name for x in m.CATALOGUE if exported_by(x, PROCESS_SERVICES[process])}


def bundle_for(process: str, engine: Engine, registry: CollectorRegistry, **kw: Any) -> MetricsBundle:
    settings = MetricsSettings(prometheus_on=True)
    return build_metrics(
        settings, executor_name="instant", service=process, engine=engine, registry=registry, **kw
    )


def test_every_metric_is_owned_by_a_service_some_process_runs() -> None:
    run_somewhere = set().union(*PROCESS_SERVICES.values()) | {Owner.EVERY}
    for metric in m.CATALOGUE:
        assert metric.owner in run_somewhere, metric.name
    assert m.BUILD_INFO.owner is Owner.EVERY and m.METRICS_ERRORS.owner is Owner.EVERY
    assert m.SCHEDULER_LAST_HEARTBEAT.owner is Owner.SCHEDULER
    assert m.EXECUTOR_OPEN_SLOTS.owner is Owner.EXECUTOR
    assert m.DAGBAG_SIZE.owner is Owner.DAG_PROCESSOR
    assert ma.ALERTS_OUTBOX_PENDING.owner is Owner.ALERTING and ma.SLA_MISSED.owner is Owner.ALERTING


def test_a_metric_without_an_owner_is_refused_at_definition() -> None:
    assert default_owner("windvane_somewhere_new_total") is None
    with pytest.raises(ValueError, match="no owner"):
        Metric("windvane_somewhere_new_total", Kind.COUNTER, "things", "help", "somewhere.new")
    explicit = Metric(
        "windvane_somewhere_new_total", Kind.COUNTER, "things", "help", "somewhere.new", owner=Owner.ALERTING
    )
    assert explicit.owner is Owner.ALERTING


def test_standalone_exports_the_whole_catalogue_across_its_two_processes() -> None:
    # `windvane standalone` runs a scheduler process and forks a dag-processor process; Celery
    # workers (`windvane celery worker`) are processes of their own.
    workers = {metric.name for metric in m.CATALOGUE if metric.owner is Owner.CELERY_WORKER}
    assert workers and owned("celery-worker") == workers | {m.BUILD_INFO.name, m.METRICS_ERRORS.name}
    assert owned("scheduler") | owned("dag-processor") == set(m.BY_NAME) - workers
    assert owned("scheduler") & owned("dag-processor") == {m.BUILD_INFO.name, m.METRICS_ERRORS.name}


def test_the_scheduler_process_exports_scheduler_executor_and_alerting_metrics(engine: Engine) -> None:
    registry = CollectorRegistry()
    bundle = bundle_for("scheduler", engine, registry, clock=FakeClock(NOW), strict=True)
    try:
        _run_small_dag(engine, bundle.observer)
        bundle.sink.incr(ma.ALERTS_SENT, channel="email")  # what the alert dispatcher service does
    finally:
        bundle.close()
    assert exported(registry) == owned("scheduler")
    assert m.PARSE_TOTAL_TIME.name not in exported(registry)
    assert registry.get_sample_value(m.SCHEDULER_HEARTBEAT.name) == 1
    assert registry.get_sample_value(m.BUILD_INFO.name, {"version": __version__, "service": "scheduler"}) == 1


def test_the_dag_processor_process_exports_only_dag_processing_metrics(
    engine: Engine, tmp_path: Path
) -> None:
    (tmp_path / "one.py").write_text(textwrap.dedent(GOOD.format(dag_id="one")))
    registry = CollectorRegistry()
    bundle = bundle_for("dag-processor", engine, registry, dags_folder=str(tmp_path), strict=True)
    try:
        bundle.record_parse(DagProcessor(tmp_path, engine).run_once())
    finally:
        bundle.close()
    body = generate_latest(registry).decode()
    assert exported(registry) == owned("dag-processor")
    assert "windvane_scheduler" not in body and "windvane_executor" not in body
    assert registry.get_sample_value(m.DAGBAG_SIZE.name) == 1


def test_a_backfill_process_exports_no_dag_processing_nor_alerting_metrics(engine: Engine) -> None:
    registry = CollectorRegistry()
    bundle_for("backfill", engine, registry).close()
    assert exported(registry) == owned("backfill")
    assert not any(
        name.startswith(("windvane_dag_processing", "windvane_alerts")) for name in owned("backfill")
    )


def test_a_metric_emitted_where_its_owner_does_not_run_is_exported_and_named(
    caplog: pytest.LogCaptureFixture,
) -> None:
    registry = CollectorRegistry()
    sink = PrometheusSink(registry, services={Owner.DAG_PROCESSOR})
    assert m.SCHEDULER_HEARTBEAT.name not in exported(registry)
    with caplog.at_level(logging.WARNING, "windvane.metrics"):
        sink.incr(m.SCHEDULER_HEARTBEAT)
        sink.incr(m.SCHEDULER_HEARTBEAT)
    assert registry.get_sample_value(m.SCHEDULER_HEARTBEAT.name) == 2  # the truth, not a 0
    assert [r.getMessage() for r in caplog.records if "owned by scheduler" in r.getMessage()] != []
    assert len(caplog.records) == 1
