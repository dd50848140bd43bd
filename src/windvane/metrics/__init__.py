"""Windvane's metrics: one catalogue, StatsD (Airflow names) and Prometheus backends.

* :mod:`.catalogue` — every metric, defined once (:data:`CATALOGUE`).
* :class:`MetricsSink` (``incr`` / ``gauge`` / ``observe``, ``bind`` -> :class:`Bound`),
  :class:`NullSink`, :class:`RecordingSink`; :class:`MultiSink`; :class:`StatsdSink`;
  :class:`PrometheusSink`.
* :class:`MetricsObserver` (scheduler hooks), :class:`ProcessorMetrics` (DAG processor
  passes), :class:`QueryCounter` (SQL statements per pass).
* :func:`build_metrics` — what the CLI calls; returns a :class:`MetricsBundle`.

``windvane.core`` never imports this package: metrics plug in through the
scheduler's observer hooks.
"""

from __future__ import annotations

from windvane.metrics.catalogue import BY_NAME, CATALOGUE
from windvane.metrics.metric import Kind, Metric
from windvane.metrics.multi_sink import MultiSink
from windvane.metrics.processor_metrics import ProcessorMetrics
from windvane.metrics.prometheus_sink import PrometheusSink
from windvane.metrics.queries import QueryCounter
from windvane.metrics.sink import Bound, MetricsSink, MetricsUsageError, NullSink, RecordingSink
from windvane.metrics.statsd_sink import StatsdSink
from windvane.metrics.subscriber import MetricsObserver
from windvane.metrics.wiring import MetricsBundle, build_metrics

__all__ = [
    "BY_NAME",
    "CATALOGUE",
    "Bound",
    "Kind",
    "Metric",
    "MetricsBundle",
    "MetricsObserver",
    "MetricsSink",
    "MetricsUsageError",
    "MultiSink",
    "NullSink",
    "ProcessorMetrics",
    "PrometheusSink",
    "QueryCounter",
    "RecordingSink",
    "StatsdSink",
    "build_metrics",
]
