"""Test helpers: a StatsD UDP listener, and :class:`Backends` — both backends with the checks that
assert a metric's value on each, noting the metric as *moved* for ``test_zz_coverage.py``."""

from __future__ import annotations

import select
import socket
from dataclasses import dataclass, field

import pytest
from prometheus_client import CollectorRegistry

from windvane.metrics.metric import Metric
from windvane.metrics.multi_sink import MultiSink
from windvane.metrics.prometheus_sink import PrometheusSink
from windvane.metrics.sink import MetricsSink
from windvane.metrics.statsd_names import render, short_name
from windvane.metrics.statsd_sink import StatsdSink

#: Names of catalogue metrics some test asserted on both backends (filled during the session).
MOVED: set[str] = set()


@dataclass(frozen=True)
class Line:
    name: str
    value: float
    kind: str
    tags: dict[str, str] = field(default_factory=dict)


def parse_packet(packet: str) -> list[Line]:
    """StatsD lines (``name:value|type[|@rate][|#k:v,...]``), one per newline."""
    lines = []
    for raw in packet.splitlines():
        name, _, rest = raw.partition(":")
        parts = rest.split("|")
        tags: dict[str, str] = {}
        for extra in parts[2:]:
            if extra.startswith("#"):
                tags = dict(t.split(":", 1) for t in extra[1:].split(","))
        lines.append(Line(name, float(parts[0]), parts[1], tags))
    return lines


class StatsdListener:
    """Receives datagrams on 127.0.0.1; :meth:`drain` reads what has arrived."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 * 1024 * 1024)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.setblocking(False)
        self.port: int = self.sock.getsockname()[1]
        self.lines: list[Line] = []
        self.packets: list[str] = []

    def drain(self) -> list[Line]:
        """Everything received so far (loopback UDP is delivered by the time sendto returns)."""
        while select.select([self.sock], [], [], 0)[0]:
            packet = self.sock.recv(65535).decode("utf-8")
            self.packets.append(packet)
            self.lines.extend(parse_packet(packet))
        return self.lines

    def named(self, name: str) -> list[Line]:
        return [line for line in self.drain() if line.name == name]

    def close(self) -> None:
        self.sock.close()


class Backends:
    """Prometheus + StatsD (tags, prefix ``windvane``) behind one strict sink."""

    def __init__(self, listener: StatsdListener) -> None:
        self.listener = listener
        self.registry = CollectorRegistry()
        self.prometheus = PrometheusSink(self.registry, strict=True)
        self.statsd = StatsdSink(host="127.0.0.1", port=listener.port, datadog_tags=True, strict=True)
        self.sink: MetricsSink = MultiSink([self.statsd, self.prometheus], strict=True)

    @classmethod
    def of(cls, listener: StatsdListener, registry: CollectorRegistry, sink: MetricsSink) -> Backends:
        """Checks over backends built elsewhere (by ``build_metrics``)."""
        both = cls.__new__(cls)
        both.listener, both.registry, both.sink = listener, registry, sink
        return both

    # -- reading each backend ---------------------------------------------------------------
    def prom(self, metric: Metric, suffix: str = "", **labels: str) -> float | None:
        return self.registry.get_sample_value(metric.name + suffix, labels)

    def wire(self, metric: Metric, **labels: str) -> list[Line]:
        """StatsD lines of ``metric`` whose tags include ``labels`` (name embedding resolved)."""
        full = {k: labels.get(k, "") for k in metric.labels}
        embedded = metric.name_labels(metric.statsd)
        names = {"windvane." + short_name(metric, full)} if all(k in labels for k in embedded) else None
        tags = {k: v for k, v in labels.items() if k not in embedded}
        found = []
        for line in self.listener.drain():
            if names is not None and line.name not in names:
                continue
            if names is None and not line.name.startswith("windvane." + metric.statsd.split("{")[0]):
                continue
            if tags.items() <= line.tags.items():
                found.append(line)
        return found

    # -- asserting on both, and noting the metric as moved ----------------------------------
    def counter(self, metric: Metric, expected: float, **labels: str) -> None:
        assert self.prom(metric, **labels) == pytest.approx(expected), metric.name
        lines = self.wire(metric, **labels)
        assert all(line.kind == "c" for line in lines)
        assert sum(line.value for line in lines) == pytest.approx(expected), metric.statsd
        MOVED.add(metric.name)

    def gauge(self, metric: Metric, expected: float, **labels: str) -> None:
        assert self.prom(metric, **labels) == pytest.approx(expected), metric.name
        lines = self.wire(metric, **labels)
        assert lines and all(line.kind == "g" for line in lines), metric.statsd
        assert lines[-1].value == pytest.approx(expected, rel=1e-5, abs=1e-6), metric.statsd
        MOVED.add(metric.name)

    def histogram(self, metric: Metric, count: int, total: float, **labels: str) -> None:
        """``count`` observations summing to ``total`` (seconds, or counts); StatsD in ms for timers."""
        assert self.prom(metric, "_count", **labels) == count, metric.name
        assert self.prom(metric, "_sum", **labels) == pytest.approx(total, abs=1e-6), metric.name
        lines = self.wire(metric, **labels)
        assert len(lines) == count, metric.statsd
        assert all(line.kind == ("ms" if metric.is_timer else "h") for line in lines)
        scale = 1000.0 if metric.is_timer else 1.0
        assert sum(line.value for line in lines) == pytest.approx(total * scale, abs=1e-3), metric.statsd
        MOVED.add(metric.name)

    def close(self) -> None:
        self.sink.close()


def expected_wire_name(metric: Metric, labels: dict[str, str], *, tags: bool) -> str:
    return "windvane." + render(metric, labels, tags=tags)[0]
