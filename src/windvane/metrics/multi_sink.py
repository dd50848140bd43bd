"""One sink in front of the backends: checks each call once, fans it out, isolates failures.

A backend that raises is logged once and counted
(``windvane_metrics_errors_total{backend=...}`` in the other backends) and the
others still get the metric; failures a backend reports itself (an
unresolvable host, a port in use) are counted the same way.

Gauges are the bulk of what the scheduler emits (every pass), so an unchanged
gauge is passed on again only after :data:`GAUGE_RESEND_SECONDS` (Prometheus
keeps the value; StatsD servers keep the last one too, the resend covers
restarts and expiring series).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Sequence

from windvane.metrics.catalogue import METRICS_ERRORS
from windvane.metrics.metric import Kind, Metric
from windvane.metrics.sink import GAUGE_RESEND_SECONDS, Emit, Labels, MetricsSink

log = logging.getLogger("windvane.metrics")
#: Failures of a backend that cannot emit: it is not asked to count them itself.
_EMIT_FAILURES = frozenset({"emit_failed", "send_failed"})


class MultiSink(MetricsSink):
    """Checks each call once and hands it to every backend, isolating their failures."""

    def __init__(self, sinks: Sequence[MetricsSink], *, strict: bool = False) -> None:
        super().__init__(strict=strict)
        self.sinks = list(sinks)
        self._gauges: dict[tuple[str, ...], tuple[float, float]] = {}
        for sink in self.sinks:
            for reason, count in sink.failures.items():
                skip = sink if reason in _EMIT_FAILURES else None
                self.count_failure(sink.backend, reason, count, skip=skip)
            sink.on_failure = self._child_failed

    def gauge(self, metric: Metric, value: float, **labels: str) -> None:
        key = (metric.name, *labels.values())
        now = time.monotonic()
        last = self._gauges.get(key)
        if last is not None and last[0] == value and now < last[1]:
            return
        if self._check(metric, Kind.GAUGE, labels, value):
            self._gauges[key] = (value, now + GAUGE_RESEND_SECONDS)
            self._gauge(metric, value, labels)

    def _emitters(self, metric: Metric, labels: Labels) -> tuple[Emit, ...]:
        return tuple(sink._emitter(metric, labels) for sink in self.sinks)

    def _emit_failed(self, index: int, exc: Exception) -> None:
        self._failed(self.sinks[index], exc)

    def _child_failed(self, sink: MetricsSink, reason: str) -> None:
        self.count_failure(sink.backend, reason, 1, skip=sink if reason in _EMIT_FAILURES else None)

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

    def remove(self, metric: Metric, **labels: str) -> None:
        self._forget(lambda sink: sink.remove(metric, **labels))

    def retain(self, label: str, values: Collection[str]) -> None:
        self._forget(lambda sink: sink.retain(label, values))

    def _forget(self, how: Callable[[MetricsSink], None]) -> None:
        self._gauges.clear()  # a forgotten gauge must be passed on again, even unchanged
        for sink in self.sinks:
            try:
                how(sink)
            except Exception:
                log.warning("metrics backend %s failed to forget series", sink.backend, exc_info=True)

    def hold(self) -> None:
        self._each("hold")

    def flush(self) -> None:
        self._each("flush")

    def release(self) -> None:
        self._each("release")

    def close(self) -> None:
        self._each("close")

    def _each(self, method: str) -> None:
        for sink in self.sinks:
            try:
                getattr(sink, method)()
            except Exception:
                log.warning("metrics backend %s failed to %s", sink.backend, method, exc_info=True)
