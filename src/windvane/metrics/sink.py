"""Where metrics go: the :class:`MetricsSink` contract and the sinks that need no backend.

A sink is told ``incr`` (counters), ``gauge`` and ``observe`` (histograms, in
seconds or counts) by catalogue entry and label values. Before anything is
emitted the call is checked: the metric must be *the* catalogue entry of its
name, the method must fit its kind, the label keys must be exactly its keys
and enumerated labels must take one of their values. A bad call raises
:class:`MetricsUsageError` in ``strict`` mode (tests) and is otherwise logged
once and counted as ``windvane_metrics_errors_total{backend="sink",reason="bad_usage"}``.

Backends implement ``_incr``/``_gauge``/``_observe`` (called with checked
input). :class:`MultiSink` checks once and fans out; a backend that raises is
logged once, counted, and the others still get the metric. No sink raises
into its caller except for misuse in strict mode.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Mapping, Sequence

from windvane.errors import WindvaneError
from windvane.metrics.catalogue import BY_NAME, METRICS_ERRORS
from windvane.metrics.metric import Kind, Metric

log = logging.getLogger("windvane.metrics")

Labels = Mapping[str, str]


class MetricsUsageError(WindvaneError, ValueError):
    """A metric that is not in the catalogue, or used with the wrong method or labels."""


class MetricsSink:
    """Base of every sink; does nothing with checked metrics (see the module doc)."""

    backend = "sink"

    def __init__(self, *, strict: bool = False) -> None:
        self.strict = strict
        #: Failures by reason (misuse, send errors...), for tests and health checks.
        self.failures: Counter[str] = Counter()
        #: Told of every failure (a :class:`MultiSink` counts them in its other backends).
        self.on_failure: Callable[[MetricsSink, str], None] | None = None
        self._logged: set[tuple[str, str]] = set()

    # -- the contract -------------------------------------------------------------------------
    def incr(self, metric: Metric, value: float = 1, **labels: str) -> None:
        """Add ``value`` (>= 0) to a counter."""
        if self._check(metric, Kind.COUNTER, labels, value):
            self._incr(metric, value, labels)

    def gauge(self, metric: Metric, value: float, **labels: str) -> None:
        """Set a gauge."""
        if self._check(metric, Kind.GAUGE, labels, value):
            self._gauge(metric, value, labels)

    def observe(self, metric: Metric, value: float, **labels: str) -> None:
        """Add one observation to a histogram (seconds for timers)."""
        if self._check(metric, Kind.HISTOGRAM, labels, value):
            self._observe(metric, value, labels)

    def close(self) -> None:
        """Release sockets and servers; the sink is not used afterwards."""

    # -- for backends -------------------------------------------------------------------------
    def _incr(self, metric: Metric, value: float, labels: Labels) -> None:
        pass

    def _gauge(self, metric: Metric, value: float, labels: Labels) -> None:
        pass

    def _observe(self, metric: Metric, value: float, labels: Labels) -> None:
        pass

    def fail(self, reason: str, message: str, *args: object, exc: BaseException | None = None) -> None:
        """Count a failure; log it the first time this reason happens (later ones at debug)."""
        self.failures[reason] += 1
        first = (self.backend, reason) not in self._logged
        self._logged.add((self.backend, reason))
        log.log(logging.ERROR if first else logging.DEBUG, message, *args, exc_info=exc if first else None)
        if self.on_failure is not None:
            self.on_failure(self, reason)

    # -- checking -----------------------------------------------------------------------------
    def _check(self, metric: Metric, kind: Kind, labels: Labels, value: float) -> bool:
        if (
            BY_NAME.get(metric.name) is metric
            and metric.kind is kind
            and labels.keys() == metric.label_set
            and all(labels[key] in allowed for key, allowed in metric.closed)
            and (kind is not Kind.COUNTER or value >= 0)
        ):
            return True
        problem = self._problem(metric, kind, labels, value)
        if self.strict:
            raise MetricsUsageError(problem)
        self.fail("bad_usage", "metrics: %s (counted in windvane_metrics_errors_total)", problem)
        if metric is not METRICS_ERRORS:
            self.incr(METRICS_ERRORS, backend="sink", reason="bad_usage")
        return False

    @staticmethod
    def _problem(metric: Metric, kind: Kind, labels: Labels, value: float) -> str:
        if BY_NAME.get(metric.name) is not metric:
            return f"{metric.name!r} is not in the catalogue (windvane.metrics.catalogue)"
        if metric.kind is not kind:
            return f"{metric.name} is a {metric.kind.value}, not a {kind.value}"
        if labels.keys() != metric.label_set:
            return f"{metric.name} takes labels {sorted(metric.labels)}, got {sorted(labels)}"
        for key in metric.labels:
            allowed = metric.values_of(key)
            if allowed is not None and labels[key] not in allowed:
                return f"{metric.name}: label {key}={labels[key]!r} is not one of {list(allowed)}"
        return f"{metric.name}: a counter cannot go down (got {value})"


class NullSink(MetricsSink):
    """Checks calls (so misuse shows in tests) and drops them."""


class RecordingSink(MetricsSink):
    """Keeps every metric in memory; strict by default. For tests."""

    def __init__(self, *, strict: bool = True) -> None:
        super().__init__(strict=strict)
        self.events: list[tuple[Kind, str, float, dict[str, str]]] = []

    def _incr(self, metric: Metric, value: float, labels: Labels) -> None:
        self.events.append((Kind.COUNTER, metric.name, value, dict(labels)))

    def _gauge(self, metric: Metric, value: float, labels: Labels) -> None:
        self.events.append((Kind.GAUGE, metric.name, value, dict(labels)))

    def _observe(self, metric: Metric, value: float, labels: Labels) -> None:
        self.events.append((Kind.HISTOGRAM, metric.name, value, dict(labels)))

    def values(self, metric: Metric, **labels: str) -> list[float]:
        """Every value recorded for ``metric`` whose labels include ``labels``."""
        return [v for _, name, v, got in self.events if name == metric.name and labels.items() <= got.items()]

    def total(self, metric: Metric, **labels: str) -> float:
        return sum(self.values(metric, **labels))

    def last(self, metric: Metric, **labels: str) -> float | None:
        found = self.values(metric, **labels)
        return found[-1] if found else None

    @property
    def moved(self) -> set[str]:
        return {name for _, name, _, _ in self.events}


class MultiSink(MetricsSink):
    """Checks each call once and hands it to every backend, isolating their failures."""

    def __init__(self, sinks: Sequence[MetricsSink], *, strict: bool = False) -> None:
        super().__init__(strict=strict)
        self.sinks = list(sinks)
        for sink in self.sinks:
            for reason, count in sink.failures.items():
                self.count_failure(sink.backend, reason, count, skip=sink)
            sink.on_failure = self._child_failed

    def _child_failed(self, sink: MetricsSink, reason: str) -> None:
        self.count_failure(sink.backend, reason, 1, skip=sink)

    def _incr(self, metric: Metric, value: float, labels: Labels) -> None:
        for sink in self.sinks:
            try:
                sink._incr(metric, value, labels)
            except Exception as exc:
                self._failed(sink, exc)

    def _gauge(self, metric: Metric, value: float, labels: Labels) -> None:
        for sink in self.sinks:
            try:
                sink._gauge(metric, value, labels)
            except Exception as exc:
                self._failed(sink, exc)

    def _observe(self, metric: Metric, value: float, labels: Labels) -> None:
        for sink in self.sinks:
            try:
                sink._observe(metric, value, labels)
            except Exception as exc:
                self._failed(sink, exc)

    def _failed(self, sink: MetricsSink, exc: Exception) -> None:
        sink.fail("emit_failed", "metrics backend %s failed; metrics go on without it", sink.backend, exc=exc)

    def count_failure(
        self, backend: str, reason: str, count: int = 1, *, skip: MetricsSink | None = None
    ) -> None:
        """Count ``count`` failures of ``backend`` in every backend but ``skip`` (never raises)."""
        labels = {"backend": backend, "reason": reason}
        for sink in self.sinks:
            if sink is not skip:
                try:
                    sink._incr(METRICS_ERRORS, count, labels)
                except Exception:
                    log.debug("could not count a metrics failure in %s", sink.backend, exc_info=True)

    def close(self) -> None:
        for sink in self.sinks:
            try:
                sink.close()
            except Exception:
                log.warning("closing metrics backend %s failed", sink.backend, exc_info=True)
