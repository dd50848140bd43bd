"""Metrics for Prometheus to scrape, as a collector in an injected ``CollectorRegistry``.

The values live in plain per-metric tables (one lock each) and are turned
into ``prometheus_client`` metric families when scraped. That keeps a new
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

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from windvane.metrics.catalogue import CATALOGUE
from windvane.metrics.metric import Kind, Metric, Owner, exported_by
from windvane.metrics.sink import Emit, Labels, MetricsSink

log = logging.getLogger("windvane.metrics")

Key = tuple[str, ...]


def _le(bound: float) -> str:
    """A bucket bound as prometheus_client writes it ("0.001", "1.0")."""
    text: str = floatToGoString(bound)  # type: ignore[no-untyped-call]
    return text


class _Table:
    """The values of one metric: a float per label set, or for histograms
    ``[count per bucket..., count above the last bucket, sum]``."""

    def __init__(self, metric: Metric) -> None:
        self.metric = metric
        self.lock = threading.Lock()
        self.values: dict[Key, Any] = {}
        self.bounds = list(metric.buckets)
        self.les = [_le(b) for b in metric.buckets] + ["+Inf"]
        if not metric.labels:
            self.slot(())

    def fresh(self) -> Any:
        return [0] * (len(self.bounds) + 1) + [0.0] if self.metric.kind is Kind.HISTOGRAM else 0.0

    def slot(self, key: Key) -> Any:
        with self.lock:
            if key not in self.values:
                self.values[key] = self.fresh()
            return self.values[key]

    def retain(self, index: int, keep: set[str]) -> None:
        """Forget the label sets whose ``index``-th value is not in ``keep``."""
        with self.lock:
            for key in [key for key in self.values if key[index] not in keep]:
                del self.values[key]

    def remove(self, labels: Labels) -> int:
        """Forget the label sets that include ``labels``; how many were forgotten."""
        names = self.metric.labels
        wanted = [(names.index(k), v) for k, v in labels.items()]
        with self.lock:
            gone = [key for key in self.values if all(key[i] == v for i, v in wanted)]
            for key in gone:
                del self.values[key]
        return len(gone)

    def family(self) -> Any:
        m, names = self.metric, list(self.metric.labels)
        if m.kind is Kind.HISTOGRAM:
            return self._histogram(names)
        with self.lock:
            scalars: list[tuple[Key, float]] = list(self.values.items())
        kind = CounterMetricFamily if m.kind is Kind.COUNTER else GaugeMetricFamily
        family = kind(m.name, m.help, labels=names)
        for key, value in scalars:
            family.add_metric(list(key), value)
        return family

    def _histogram(self, names: list[str]) -> HistogramMetricFamily:
        with self.lock:
            rows: list[tuple[Key, list[float]]] = [(k, list(v)) for k, v in self.values.items()]
        histogram = HistogramMetricFamily(self.metric.name, self.metric.help, labels=names)
        for key, counts in rows:
            cumulative, running = [], 0.0
            for le, count in zip(self.les, counts[:-1], strict=True):
                running += count
                cumulative.append((le, running))
            histogram.add_metric(list(key), cumulative, sum_value=counts[-1])
        return histogram


class _Collector(Collector):
    def __init__(self, tables: dict[str, _Table]) -> None:
        self.tables = tables

    def collect(self) -> Iterator[Any]:
        for table in list(self.tables.values()):
            yield table.family()


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
        self._tables = {m.name: _Table(m) for m in CATALOGUE if exported_by(m, self.services)}
        self._tables_lock = threading.Lock()
        self.registry.register(_Collector(self._tables))
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None

    def _table(self, metric: Metric) -> _Table:
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
                    table = self._tables[metric.name] = _Table(metric)
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
        lock, values = table.lock, table.values
        # Each call looks its series up again: remove() may have forgotten it since.
        if metric.kind is Kind.COUNTER:

            def inc(value: float) -> None:
                with lock:
                    values[key] = values.get(key, 0.0) + value

            return inc
        if metric.kind is Kind.GAUGE:

            def set_(value: float) -> None:
                values[key] = float(value)

            return set_
        bounds, last, fresh = table.bounds, len(table.bounds) + 1, table.fresh

        def observe(value: float) -> None:
            i = bisect.bisect_left(bounds, value)
            with lock:
                counts = values.get(key)
                if counts is None:
                    counts = values[key] = fresh()
                counts[i] += 1
                counts[last] += value

        return observe

    def _incr(self, metric: Metric, value: float, labels: Labels) -> None:
        self._emitter(metric, labels)(value)

    def _gauge(self, metric: Metric, value: float, labels: Labels) -> None:
        self._emitter(metric, labels)(value)

    def _observe(self, metric: Metric, value: float, labels: Labels) -> None:
        self._emitter(metric, labels)(value)

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
            self._server, self._thread = start_http_server(port, addr=host, registry=self.registry)
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
