"""Sending metrics to StatsD over UDP, Airflow-style.

Names follow :mod:`.statsd_names`: with ``datadog_tags`` the short name plus
DogStatsD tags, otherwise Airflow's legacy dotted names (label values inside
the name). Timers go out in milliseconds (``|ms``), count histograms as
``|h``, gauges as ``|g`` (a negative gauge is sent as ``0`` then the value, so
StatsD does not read it as a decrement).

Filtering is Airflow 3's: each pattern of ``allow_list`` / ``block_list`` is a
regular expression searched anywhere in the lower-cased short name (without
prefix); when an allow list is given the block list is ignored.

Between :meth:`~StatsdSink.hold` and :meth:`~StatsdSink.flush` lines are
buffered and sent as few packets of at most :data:`MAX_PACKET` bytes. The
scheduler holds during each pass and ends it with :meth:`~StatsdSink.release`,
which sends only when the last send is ``coalesce_seconds`` (0.25 s) old or
:data:`_MAX_HELD` lines wait; otherwise the lines wait for a later release (a
busy scheduler makes several passes in 0.25 s: one datagram batch for all of
them instead of one a pass). So a line may reach StatsD up to 0.25 s late (or,
when the scheduler goes idle just then, at its next pass); a line emitted
outside a hold, :meth:`~StatsdSink.flush` and :meth:`~StatsdSink.close` send
everything waiting at once.

Datagrams go out through :class:`~windvane.metrics.udp_sender.UdpSender`
(non-blocking UDP, our own: see its module). A host that cannot be resolved is
logged once and the sink becomes a no-op that counts what it drops
(:attr:`StatsdSink.dropped`). Send errors are logged once and counted; nothing
raises into the caller.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Sequence

from windvane.metrics.metric import Metric
from windvane.metrics.sink import Emit, Labels, MetricsSink
from windvane.metrics.statsd_names import render, short_name, wire_number, wire_type, wire_value
from windvane.metrics.udp_sender import UdpSender

log = logging.getLogger("windvane.metrics")

#: Largest packet sent (fits an Ethernet MTU with the IP and UDP headers).
MAX_PACKET = 1432
#: Lines buffered while held before packets go out anyway.
_MAX_HELD = 64
#: A released batch waits for a later one until the last send is this old (seconds).
COALESCE_SECONDS = 0.25


class StatsdSink(MetricsSink):
    backend = "statsd"

    def __init__(
        self,
        *,
        host: str = "localhost",
        port: int = 8125,
        prefix: str = "windvane",
        allow_list: Sequence[str] = (),
        block_list: Sequence[str] = (),
        datadog_tags: bool = True,
        strict: bool = False,
        coalesce_seconds: float = COALESCE_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(strict=strict)
        self.coalesce_seconds = coalesce_seconds
        self._monotonic = monotonic
        self._last_send = float("-inf")
        self.prefix = prefix.strip(".")
        self.datadog_tags = datadog_tags
        # Case-insensitive rather than lower-cased: lowering a pattern turns \S into \s, \D into \d.
        self.allow = [re.compile(p, re.IGNORECASE) for p in allow_list if p]
        self.block = [] if self.allow else [re.compile(p, re.IGNORECASE) for p in block_list if p]
        if self.allow and any(block_list):
            log.warning("metrics.statsd_block_list is ignored because statsd_allow_list is set")
        #: Emissions dropped because the sink is disabled.
        self.dropped = 0
        self._heads: dict[tuple[str, tuple[str, ...]], tuple[str, str] | None] = {}
        #: Lines not sent yet (held, or released and waiting to be coalesced).
        self._pending: list[str] = []
        self._holding = False
        self._client: UdpSender | None
        try:
            self._client = UdpSender(host, port)
        except (OSError, UnicodeError) as exc:
            self._client = None
            self.fail(
                "unresolvable_host",
                "StatsD host %s:%s cannot be resolved (%s); StatsD is off",
                host,
                port,
                exc,
            )

    @property
    def enabled(self) -> bool:
        return self._client is not None

    def allowed(self, name: str) -> bool:
        """Whether a short StatsD name (no prefix) passes the allow / block lists."""
        if not self.allow and not self.block:
            return True
        lowered = name.lower()
        if self.allow:
            return any(p.search(lowered) for p in self.allow)
        return not any(p.search(lowered) for p in self.block)

    def _incr(self, metric: Metric, value: float, labels: Labels) -> None:
        self._send(metric, value, labels)

    def _gauge(self, metric: Metric, value: float, labels: Labels) -> None:
        self._send(metric, value, labels)

    def _observe(self, metric: Metric, value: float, labels: Labels) -> None:
        self._send(metric, value, labels)

    def _emitter(self, metric: Metric, labels: Labels) -> Emit:
        # Not cached in _heads: the bound emitter keeps what it needs.
        return _Line(self, metric, self._render_head(metric, labels))

    def _head(self, metric: Metric, labels: Labels) -> tuple[str, str] | None:
        key = (metric.name, tuple(map(labels.__getitem__, metric.labels)))
        try:
            return self._heads[key]
        except KeyError:
            pass
        head = self._heads[key] = self._render_head(metric, labels)
        return head

    def _render_head(self, metric: Metric, labels: Labels) -> tuple[str, str] | None:
        """(full name, tag suffix) of a series, or None when the allow / block lists filter it out."""
        if (self.allow or self.block) and not self.allowed(short_name(metric, labels)):
            return None
        name, tags = render(metric, labels, tags=self.datadog_tags)
        return (f"{self.prefix}.{name}" if self.prefix else name, tags)

    def _send(self, metric: Metric, value: float, labels: Labels) -> None:
        if self._client is None:
            self.dropped += 1
            return
        head = self._head(metric, labels)
        if head is None:
            return
        name, tags = head
        kind = wire_type(metric)
        line = f"{name}:{wire_value(metric, value)}|{kind}{tags}"
        if kind == "g" and value < 0:
            line = f"{name}:0|g{tags}\n{line}"
        self._line(line)

    def _line(self, line: str) -> None:
        pending = self._pending
        if not self._holding and not pending:
            self._write(line)
            return
        pending.append(line)
        if not self._holding or len(pending) >= _MAX_HELD:
            self._write_pending()

    def hold(self) -> None:
        self._holding = True

    def flush(self) -> None:
        self._holding = False
        self._write_pending()

    def release(self) -> None:
        """Stop holding; send what waits if the last send is ``coalesce_seconds`` old, else later."""
        self._holding = False
        if self._pending and self._monotonic() - self._last_send >= self.coalesce_seconds:
            self._write_pending()

    def _write_pending(self) -> None:
        lines, self._pending = self._pending, []
        if not lines:
            return
        self._last_send = self._monotonic()
        packet = ""
        for line in lines:
            if packet and len(packet) + 1 + len(line) > MAX_PACKET:
                self._write(packet)
                packet = ""
            packet = f"{packet}\n{line}" if packet else line
        if packet:
            self._write(packet)

    def _write(self, data: str) -> None:
        if self._client is None:
            return
        error = self._client.send(data)
        if error is not None:
            self.fail("send_failed", "sending to StatsD failed (%s); later failures are only counted", error)

    def close(self) -> None:
        self.flush()
        if self._client is not None:
            self._client.close()
            self._client = None


class _Line:
    """The emitter of one bound series: its line's fixed start and end, kept from binding (one
    object per series rather than a closure, as it lives as long as the series)."""

    __slots__ = ("end", "gauge", "sink", "start", "timer")

    def __init__(self, sink: StatsdSink, metric: Metric, head: tuple[str, str] | None) -> None:
        self.sink = sink
        kind = wire_type(metric)
        self.timer = kind == "ms"
        self.gauge = kind == "g"
        if head is None:  # filtered out by the allow / block lists
            self.start = self.end = ""
        else:
            self.start, self.end = f"{head[0]}:", f"|{kind}{head[1]}"

    def __call__(self, value: float) -> None:
        sink = self.sink
        if sink._client is None:
            sink.dropped += 1
            return
        start = self.start
        if not start:
            return
        if self.timer:
            value *= 1000.0
        line = start + ("1" if value == 1 else wire_number(value)) + self.end
        if value < 0 and self.gauge:  # StatsD would read "-1" as a decrement: set 0 first
            line = f"{start}0{self.end}\n{line}"
        if sink._holding:  # StatsdSink._line, inline: most lines are emitted in a pass (held)
            pending = sink._pending
            pending.append(line)
            if len(pending) >= _MAX_HELD:
                sink._write_pending()
        else:
            sink._line(line)
