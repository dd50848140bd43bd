"""Metrics for Prometheus to scrape, as a collector in an injected ``CollectorRegistry``.

The values live in plain per-metric tables (one lock each,
:mod:`.prometheus_table`). ``/metrics`` writes its text from them directly
(:mod:`.exposition`, :mod:`.metrics_http`); the registry's collector turns
them into ``prometheus_client`` metric families for everything else. That keeps a new
label set (a task seen for the first time) and an observation at a few
microseconds on the scheduler's thread, where ``prometheus_client``'s own
metric objects cost tens; it also leaves out the ``_created`` series.
A process exports the metrics of the services it runs (``services``, see
:data:`~windvane.metrics.metric.PROCESS_SERVICES`; all by default) from the
start, label-less ones at 0, so ``increase()`` sees the first event; nothing
else is exported at 0 (a DAG processor serving
``windvane_scheduler_heartbeat_timestamp_seconds 0`` would make a "scheduler
down" alert fire forever). A metric another service owns is exported only
once this process emits it (and a warning names it: its owner is wrong).

:meth:`PrometheusSink.remove` forgets series (a vanished DAG file, a
deactivated DAG), so they stop being exported.

:meth:`PrometheusSink.serve` starts the ``/metrics`` HTTP endpoint; a port in
use is logged and counted and the process goes on without it.

Task metrics of LocalExecutor workers need no multiprocess mode: workers
report every try to the scheduler as a ``TaskEvent``, and the scheduler's
:class:`~windvane.metrics.subscriber.MetricsObserver` records them here, in
the one process that serves ``/metrics``.
"""

from __future__ import annotations

import bisect
import errno
import logging
import threading
from collections.abc import Collection, Iterator
from typing import Any
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry
from prometheus_client.registry import Collector

from windvane.metrics.catalogue import CATALOGUE
from windvane.metrics.exposition import Exposition
from windvane.metrics.metric import Kind, Metric, Owner, exported_by
from windvane.metrics.metrics_http import metrics_app, start_server
from windvane.metrics.prometheus_table import Key, SeriesTable
from windvane.metrics.sink import Emit, Labels, MetricsSink

log = logging.getLogger("windvane.metrics")


class _Collector(Collector):
    def __init__(self, tables: dict[str, SeriesTable]) -> None:
        self.tables = tables

    def collect(self) -> Iterator[Any]:
        for table in list(self.tables.values()):
            yield table.family()


# The emitters of bound series: one small object each rather than a closure (a function, its cells
# and their tuple), as each is kept for the life of its series and walked by every full collection.
# Each call looks its series up again: remove() may have forgotten it since.
class _Counter:
    __slots__ = ("key", "table")

    def __init__(self, table: SeriesTable, key: Key) -> None:
        self.table, self.key = table, key

    def __call__(self, value: float) -> None:
        table, key = self.table, self.key
        with table.lock:
            values = table.values
            values[key] = values.get(key, 0.0) + value


class _Gauge(_Counter):
    __slots__ = ()

    def __call__(self, value: float) -> None:
        self.table.values[self.key] = float(value)


class _Histogram(_Counter):
    __slots__ = ()

    def __call__(self, value: float) -> None:
        table, key = self.table, self.key
        i = bisect.bisect_left(table.bounds, value)
        with table.lock:
            counts = table.values.get(key)
            if counts is None:
                counts = table.values[key] = table.fresh()
            counts[i] += 1
            counts[-1] += value


class PrometheusSink(MetricsSink):
    """``services``: what this process runs (None: every service, as in tests)."""

    backend = "prometheus"

    def __init__(
        self,
        registry: CollectorRegistry | None = None,
        *,
        services: Collection[Owner] | None = None,
        strict: bool = False,
    ) -> None:
        super().__init__(strict=strict)
        self.registry = registry if registry is not None else CollectorRegistry()
        self.services = frozenset(Owner) if services is None else frozenset(services)
        self._tables = {m.name: SeriesTable(m) for m in CATALOGUE if exported_by(m, self.services)}
        self._tables_lock = threading.Lock()
        self.registry.register(_Collector(self._tables))
        self._exposition = Exposition()
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None

    def _table(self, metric: Metric) -> SeriesTable:
        table = self._tables.get(metric.name)
        if table is None:
            with self._tables_lock:
                table = self._tables.get(metric.name)
                if table is None:
                    log.warning(
                        "metrics: %s is owned by %s, which this process does not run; exporting it "
                        "anyway (fix its owner in windvane.metrics.catalogue)",
                        metric.name,
                        metric.owner.value,
                    )
                    table = self._tables[metric.name] = SeriesTable(metric)
        return table

    def remove(self, metric: Metric, **labels: str) -> None:
        table = self._tables.get(metric.name)
        if table is not None and labels.keys() <= metric.label_set:
            table.remove(labels)

    def retain(self, label: str, values: Collection[str]) -> None:
        keep = set(values)
        for table in list(self._tables.values()):
            if label in table.metric.label_set:
                table.retain(table.metric.labels.index(label), keep)

    def _emitter(self, metric: Metric, labels: Labels) -> Emit:
        table = self._table(metric)
        key = tuple(map(labels.__getitem__, metric.labels))
        table.slot(key)
        if metric.kind is Kind.COUNTER:
            return _Counter(table, key)
        if metric.kind is Kind.GAUGE:
            return _Gauge(table, key)
        return _Histogram(table, key)

    def _incr(self, metric: Metric, value: float, labels: Labels) -> None:
        self._emitter(metric, labels)(value)

    def _gauge(self, metric: Metric, value: float, labels: Labels) -> None:
        self._emitter(metric, labels)(value)

    def _observe(self, metric: Metric, value: float, labels: Labels) -> None:
        self._emitter(metric, labels)(value)

    def exposition(self, *, openmetrics: bool = False) -> bytes:
        """The text ``/metrics`` serves (format 0.0.4, or OpenMetrics 1.0.0): the same bytes as
        ``prometheus_client``'s ``generate_latest`` of :attr:`registry`, written faster."""
        return self._exposition.render(list(self._tables.values()), openmetrics=openmetrics)

    @property
    def port(self) -> int | None:
        """The port ``/metrics`` is served on, once :meth:`serve` succeeded."""
        return None if self._server is None else int(self._server.server_port)

    def serve(self, host: str, port: int) -> int | None:
        """Serve ``/metrics`` on ``host:port`` (0: any free port) in a daemon thread.

        Returns the bound port, or None when it could not listen: the error is
        logged, counted (``port_in_use`` or ``serve_failed``) and the process goes on.
        """
        if self._server is not None:
            return self.port
        try:
            app = metrics_app(lambda openmetrics: self.exposition(openmetrics=openmetrics), self.registry)
            self._server, self._thread = start_server(app, host, port)
        except OSError as exc:
            reason = "port_in_use" if exc.errno == errno.EADDRINUSE else "serve_failed"
            self.fail(
                reason,
                "cannot serve Prometheus metrics on %s:%s (%s); going on without them",
                host,
                port,
                exc,
            )
            return None
        log.info("serving Prometheus metrics on http://%s:%s/metrics", host, self.port)
        return self.port

    def close(self) -> None:
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(timeout=5.0)
