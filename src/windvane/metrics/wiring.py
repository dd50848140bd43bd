"""Building the metrics of one process from ``[metrics]`` settings: :func:`build_metrics`.

The CLI calls it once per process and plugs the pieces in::

    bundle = build_metrics(settings.metrics, executor_name=settings.core.executor,
                           service="scheduler", engine=engine)
    bundle.start_http_server()                    # Prometheus /metrics, if prometheus_on
    scheduler = Scheduler(..., observer=bundle.observer)
    ...
    bundle.record_parse(processor.run_once())     # in the DAG processor's loop
    bundle.close()

With both backends off everything is a no-op and nothing is attached to the
engine, so metrics cost nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry
from sqlalchemy import Engine

from windvane import __version__
from windvane.core.model.clock import Clock
from windvane.core.processor.report import ParseReport
from windvane.core.scheduler.observer import SafeObserver, SchedulerObserver
from windvane.metrics.catalogue import BUILD_INFO
from windvane.metrics.metric import Owner, services_of
from windvane.metrics.multi_sink import MultiSink
from windvane.metrics.processor_metrics import ProcessorMetrics
from windvane.metrics.prometheus_sink import PrometheusSink
from windvane.metrics.queries import QueryCounter
from windvane.metrics.sink import MetricsSink, NullSink
from windvane.metrics.stale import DagSweeper
from windvane.metrics.statsd_sink import StatsdSink
from windvane.metrics.subscriber import BATCH_SECONDS, MetricsObserver
from windvane.settings import MetricsSettings

log = logging.getLogger("windvane.metrics")


@dataclass
class MetricsBundle:
    """Everything metrics needs in one process (see the module doc)."""

    settings: MetricsSettings
    #: Where every metric goes (a :class:`MultiSink` over the backends that are on).
    sink: MetricsSink
    #: Give this to the scheduler (failures inside it are logged and counted, never raised).
    observer: SchedulerObserver
    metrics_observer: MetricsObserver | None = None
    processor: ProcessorMetrics | None = None
    statsd: StatsdSink | None = None
    prometheus: PrometheusSink | None = None
    queries: QueryCounter | None = None
    _closed: bool = field(default=False, repr=False)

    @property
    def enabled(self) -> bool:
        return self.statsd is not None or self.prometheus is not None

    def start_http_server(self, port: int | None = None) -> int | None:
        """Serve Prometheus ``/metrics`` on ``prometheus_host:port`` (default ``prometheus_port``).

        Returns the port, or None when Prometheus is off or the port cannot be
        bound (logged and counted in ``windvane_metrics_errors_total``; the
        process goes on).
        """
        if self.prometheus is None:
            return None
        return self.prometheus.serve(
            self.settings.prometheus_host, self.settings.prometheus_port if port is None else port
        )

    def record_parse(self, report: ParseReport) -> None:
        """Record one DAG processor pass (no-op when metrics are off)."""
        if self.processor is not None:
            self.processor.record(report)

    def record_processor_db_error(self) -> None:
        """Count one transient database error the DAG processor rides out."""
        if self.processor is not None:
            self.processor.database_error()

    def close(self) -> None:
        """Turn the scheduler's kept events into metrics, stop the HTTP server, close sockets,
        detach from the engine (idempotent)."""
        if self._closed:
            return
        self._closed = True
        if self.metrics_observer is not None:
            try:
                self.metrics_observer.drain()
            except Exception:  # an observer never breaks what it observes, closing included
                log.warning("metrics: the scheduler's last events could not be emitted", exc_info=True)
        if self.queries is not None:
            self.queries.detach()
        self.sink.close()


def build_metrics(
    settings: MetricsSettings,
    *,
    executor_name: str,
    service: str,
    engine: Engine | None = None,
    clock: Clock | None = None,
    dags_folder: str | None = None,
    registry: CollectorRegistry | None = None,
    strict: bool = False,
) -> MetricsBundle:
    """The metrics of one process: sinks for the backends that are on, the scheduler observer,
    DAG processor metrics (when ``engine`` is given) and the Prometheus server starter.

    ``executor_name`` labels executor metrics; ``service`` (``scheduler``,
    ``dag-processor``, ``backfill``) labels ``windvane_build_info`` and chooses what
    the Prometheus endpoint exports: the metrics of the services that kind of
    process runs (:data:`~windvane.metrics.metric.PROCESS_SERVICES`). ``engine`` gets a
    query counter (per-pass DB metrics) and is where DAG totals are read. The
    scheduler observer is built only for processes that run the scheduler, DAG
    processor metrics only for those that run the DAG processor (and have an
    ``engine``): binding metrics is what creates their series.
    ``clock`` times DAG processor metrics. ``strict`` makes misuse raise (tests).
    """
    backends: list[MetricsSink] = []
    statsd = prometheus = None
    if settings.statsd_on:
        statsd = StatsdSink(
            host=settings.statsd_host,
            port=settings.statsd_port,
            prefix=settings.statsd_prefix,
            allow_list=settings.statsd_allow_list,
            block_list=settings.statsd_block_list,
            datadog_tags=settings.statsd_datadog_tags,
            strict=strict,
        )
        backends.append(statsd)
    services = services_of(service)
    if settings.prometheus_on:
        prometheus = PrometheusSink(registry, services=services, strict=strict)
        backends.append(prometheus)
    if not backends:
        return MetricsBundle(settings, NullSink(strict=strict), SchedulerObserver())
    sink = MultiSink(backends, strict=strict)
    queries = observer = processor = None
    if Owner.SCHEDULER in services:
        queries = QueryCounter(engine) if engine is not None else None
        observer = MetricsObserver(
            sink, executor_name=executor_name, queries=queries, batch_seconds=BATCH_SECONDS
        )
        if engine is not None:
            observer.sweeper = DagSweeper(sink, engine, on_sweep=observer.forget_dags)
    if Owner.DAG_PROCESSOR in services and engine is not None:
        processor = ProcessorMetrics(sink, engine, dags_folder=dags_folder, clock=clock)
    sink.gauge(BUILD_INFO, 1, version=__version__, service=service)
    safe = SafeObserver([observer]) if observer is not None else SchedulerObserver()
    return MetricsBundle(settings, sink, safe, observer, processor, statsd, prometheus, queries)
