"""Where metrics go: the :class:`MetricsSink` contract and the sinks that need no backend.

A sink is told ``incr`` (counters), ``gauge`` and ``observe`` (histograms, in
seconds or counts) by catalogue entry and label values. Before anything is
emitted the call is checked: the metric must be *the* catalogue entry of its
name, the method must fit its kind, the label keys must be exactly its keys
and enumerated labels must take one of their values. A bad call raises
:class:`MetricsUsageError` in ``strict`` mode (tests) and is otherwise logged
once and counted as ``windvane_metrics_errors_total{backend="sink",reason="bad_usage"}``.

Code on a hot path binds a metric to its labels once (:meth:`MetricsSink.bind`)
and emits through the :class:`Bound` it gets: checked once, then a call per
backend.

Backends implement ``_incr``/``_gauge``/``_observe`` (called with checked
input) and may give :meth:`MetricsSink._emitter` a faster form;
:class:`~windvane.metrics.multi_sink.MultiSink` checks once and fans out. No
sink raises into its caller except for misuse in strict mode.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Collection, Mapping

from windvane.errors import WindvaneError
from windvane.metrics.catalogue import BY_NAME, METRICS_ERRORS
from windvane.metrics.metric import Kind, Metric

log = logging.getLogger("windvane.metrics")

Labels = Mapping[str, str]
Emit = Callable[[float], None]

#: An unchanged gauge is passed on again after this many seconds (StatsD servers may forget it).
GAUGE_RESEND_SECONDS = 10.0


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

    def bind(self, metric: Metric, **labels: str) -> Bound:
        """``metric`` with ``labels``, checked now, for emitting many times cheaply."""
        if not self._check(metric, metric.kind, labels, 0):
            return Bound(self, metric, ())
        return Bound(self, metric, self._emitters(metric, dict(labels)))

    def remove(self, metric: Metric, **labels: str) -> None:
        """Forget the series of ``metric`` whose labels include ``labels`` (a vanished DAG file, a
        deactivated DAG), so a backend that keeps series stops exporting them. Backends that keep
        nothing (StatsD) just stop being sent them. Never raises."""

    def retain(self, label: str, values: Collection[str]) -> None:
        """Forget every series whose ``label`` is not one of ``values`` (the DAG files of the
        folder, the active DAGs): the same as :meth:`remove` for each value that went away."""

    def hold(self) -> None:
        """Buffer what is emitted until :meth:`flush` (a backend that sends packets batches them)."""

    def flush(self) -> None:
        """Send what was buffered since :meth:`hold`, and stop buffering."""

    def release(self) -> None:
        """Stop buffering; what was buffered may wait a little to go out with later lines
        (StatsD coalesces the packets of passes close together). By default, :meth:`flush`."""
        self.flush()

    def close(self) -> None:
        """Flush, release sockets and servers; the sink is not used afterwards."""

    # -- for backends -------------------------------------------------------------------------
    def _emitters(self, metric: Metric, labels: Labels) -> tuple[Emit, ...]:
        """What a :class:`Bound` calls for each value: one emitter per backend."""
        return (self._emitter(metric, labels),)

    def _emit_failed(self, index: int, exc: Exception) -> None:
        """The ``index``-th emitter of a :class:`Bound` raised: count it (never raises)."""
        self.fail("emit_failed", "metrics backend %s failed; metrics go on without it", self.backend, exc=exc)

    def _emitter(self, metric: Metric, labels: Labels) -> Emit:
        """A function emitting ``metric`` with ``labels`` (checked already) for a value."""
        methods = {Kind.COUNTER: self._incr, Kind.GAUGE: self._gauge, Kind.HISTOGRAM: self._observe}
        method = methods[metric.kind]
        return lambda value: method(metric, value, labels)

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


class Bound:
    """A metric bound to its label values (see :meth:`MetricsSink.bind`).

    Only the method of the metric's kind may be used. An unchanged gauge is
    emitted again only after :data:`GAUGE_RESEND_SECONDS`. Each value goes to
    every backend's emitter in turn; one that raises is counted by the sink
    (:meth:`MetricsSink._emit_failed`) and the others still get the value.
    Kept for the life of its series, so it holds as few objects as it can.
    """

    __slots__ = ("_due", "_emits", "_kind", "_last", "metric", "sink")

    def __init__(self, sink: MetricsSink, metric: Metric, emits: tuple[Emit, ...]) -> None:
        self.sink, self.metric, self._emits = sink, metric, emits
        self._kind = metric.kind
        self._last: float | None = None
        self._due = 0.0

    # The loop is written out in each method: this is the hot path of every metric.
    def incr(self, value: float = 1) -> None:
        if self._kind is not _COUNTER or value < 0:
            self.sink._check(self.metric, Kind.COUNTER, {k: "" for k in self.metric.labels}, value)
            return
        for emit in self._emits:
            try:
                emit(value)
            except Exception as exc:
                self.sink._emit_failed(self._emits.index(emit), exc)

    def gauge(self, value: float) -> None:
        if self._kind is not _GAUGE:
            self.sink._check(self.metric, Kind.GAUGE, {k: "" for k in self.metric.labels}, value)
            return
        now = time.monotonic()
        if value == self._last and now < self._due:
            return
        self._last, self._due = value, now + GAUGE_RESEND_SECONDS
        for emit in self._emits:
            try:
                emit(value)
            except Exception as exc:
                self.sink._emit_failed(self._emits.index(emit), exc)

    def observe(self, value: float) -> None:
        if self._kind is not _HISTOGRAM:
            self.sink._check(self.metric, Kind.HISTOGRAM, {k: "" for k in self.metric.labels}, value)
            return
        for emit in self._emits:
            try:
                emit(value)
            except Exception as exc:
                self.sink._emit_failed(self._emits.index(emit), exc)


# Module constants: an enum member looked up on its class costs three times a global.
_COUNTER, _GAUGE, _HISTOGRAM = Kind.COUNTER, Kind.GAUGE, Kind.HISTOGRAM


class NullSink(MetricsSink):
    """Checks calls (so misuse shows in tests) and drops them."""


class RecordingSink(MetricsSink):
    """Keeps every metric in memory; strict by default. For tests."""

    def __init__(self, *, strict: bool = True) -> None:
        super().__init__(strict=strict)
        self.events: list[tuple[Kind, str, float, dict[str, str]]] = []
        #: (metric name, labels) of every :meth:`remove`.
        self.removed: list[tuple[str, dict[str, str]]] = []
        #: (label, values kept) of every :meth:`retain`.
        self.retained: list[tuple[str, set[str]]] = []

    def remove(self, metric: Metric, **labels: str) -> None:
        self.removed.append((metric.name, dict(labels)))

    def retain(self, label: str, values: Collection[str]) -> None:
        self.retained.append((label, set(values)))

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
