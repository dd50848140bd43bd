"""The values of one metric as :class:`~windvane.metrics.prometheus_sink.PrometheusSink` keeps them.

A :class:`SeriesTable` maps a label-value tuple (in the catalogue's label order)
to a float (counters, gauges) or, for histograms, to
``[count per bucket..., count above the last bucket, sum]``. Writers hold
:attr:`SeriesTable.lock` for read-modify-write; a scrape copies the values
under it (:meth:`SeriesTable.snapshot`) and formats outside it.
"""

from __future__ import annotations

import threading
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.utils import floatToGoString

from windvane.metrics.metric import Kind, Metric
from windvane.metrics.sink import Labels

Key = tuple[str, ...]


def le_text(bound: float) -> str:
    """A bucket bound as prometheus_client writes it ("0.001", "1.0")."""
    text: str = floatToGoString(bound)  # type: ignore[no-untyped-call]
    return text


class SeriesTable:
    """The series of one metric (see the module doc)."""

    def __init__(self, metric: Metric) -> None:
        self.metric = metric
        self.lock = threading.Lock()
        self.values: dict[Key, Any] = {}
        self.bounds = list(metric.buckets)
        self.les = [le_text(b) for b in metric.buckets] + ["+Inf"]
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

    def snapshot(self) -> list[tuple[Key, Any]]:
        """Every series and its value, consistent per series (histograms copied)."""
        with self.lock:
            if self.metric.kind is Kind.HISTOGRAM:
                return [(k, list(v)) for k, v in self.values.items()]
            return list(self.values.items())

    def family(self) -> Any:
        """The values as a ``prometheus_client`` metric family (the registry's generic path)."""
        m, names = self.metric, list(self.metric.labels)
        if m.kind is Kind.HISTOGRAM:
            histogram = HistogramMetricFamily(m.name, m.help, labels=names)
            for key, counts in self.snapshot():
                cumulative, running = [], 0.0
                for le, count in zip(self.les, counts[:-1], strict=True):
                    running += count
                    cumulative.append((le, running))
                histogram.add_metric(list(key), cumulative, sum_value=counts[-1])
            return histogram
        kind = CounterMetricFamily if m.kind is Kind.COUNTER else GaugeMetricFamily
        family = kind(m.name, m.help, labels=names)
        for key, value in self.snapshot():
            family.add_metric(list(key), value)
        return family
