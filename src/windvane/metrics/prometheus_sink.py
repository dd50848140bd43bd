"""Metrics for Prometheus to scrape, kept in an injected ``CollectorRegistry``.

Every catalogue entry is registered up front (label-less ones start at 0, so
``increase()`` sees the first event). Counters, gauges and histograms are
``prometheus_client``'s; the ``_created`` series it adds are left out of the
exposition (they would double the series of every counter and histogram).

:meth:`PrometheusSink.serve` starts the ``/metrics`` HTTP endpoint; a port in
use is logged and counted and the process goes on without it.

Task metrics of LocalExecutor workers need no multiprocess mode: workers
report every try to the scheduler as a ``TaskEvent``, and the scheduler's
:class:`~windvane.metrics.subscriber.MetricsObserver` records them here, in
the one process that serves ``/metrics``.
"""

from __future__ import annotations

import errno
import logging
import threading
from collections.abc import Iterable
from typing import Any
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample

from windvane.metrics.catalogue import CATALOGUE
from windvane.metrics.metric import Kind, Metric
from windvane.metrics.sink import Labels, MetricsSink

log = logging.getLogger("windvane.metrics")


class _WithoutCreated(Collector):
    """Exposes the catalogue's metric families, minus their ``_created`` samples."""

    def __init__(self, families: Iterable[MetricWrapperBase]) -> None:
        self.families = list(families)

    def collect(self) -> Iterable[Any]:
        for family in self.families:
            for metric in family.collect():
                metric.samples = [s for s in metric.samples if not _is_created(s)]
                yield metric

    def describe(self) -> Iterable[Any]:
        for family in self.families:
            yield from family.describe()


def _is_created(sample: Sample) -> bool:
    return sample.name.endswith("_created")


def _family(metric: Metric) -> MetricWrapperBase:
    common: dict[str, Any] = {"labelnames": metric.labels, "registry": None}
    if metric.kind is Kind.COUNTER:
        return Counter(metric.name, metric.help, **common)
    if metric.kind is Kind.GAUGE:
        return Gauge(metric.name, metric.help, **common)
    return Histogram(metric.name, metric.help, buckets=metric.buckets, **common)


class PrometheusSink(MetricsSink):
    backend = "prometheus"

    def __init__(self, registry: CollectorRegistry | None = None, *, strict: bool = False) -> None:
        super().__init__(strict=strict)
        self.registry = registry if registry is not None else CollectorRegistry()
        self._families = {m.name: _family(m) for m in CATALOGUE}
        self.registry.register(_WithoutCreated(self._families.values()))
        self._children: dict[tuple[str, tuple[str, ...]], Any] = {}
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None

    def _child(self, metric: Metric, labels: Labels) -> Any:
        values = tuple(labels[k] for k in metric.labels)
        key = (metric.name, values)
        child = self._children.get(key)
        if child is None:
            family = self._families[metric.name]
            child = family.labels(*values) if values else family
            self._children[key] = child
        return child

    def _incr(self, metric: Metric, value: float, labels: Labels) -> None:
        self._child(metric, labels).inc(value)

    def _gauge(self, metric: Metric, value: float, labels: Labels) -> None:
        self._child(metric, labels).set(value)

    def _observe(self, metric: Metric, value: float, labels: Labels) -> None:
        self._child(metric, labels).observe(value)

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
            self.fail(reason, "cannot serve Prometheus metrics on %s:%s (%s); going on without them",
                      host, port, exc)
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
