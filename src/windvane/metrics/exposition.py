"""Writing the exposition text of :class:`~windvane.metrics.prometheus_table.SeriesTable` s directly.

``prometheus_client``'s generic path builds a ``Sample`` per line, then sorts,
escapes and formats every label of every line on every scrape: with 1,000
task ids (a histogram and three counters each, ~18,000 lines, 1.4 MB) that is
~130 ms of CPU a scrape, on the scheduler's process. :class:`Exposition`
writes the same bytes (tests compare them with ``generate_latest`` and
OpenMetrics' ``generate_latest``) from the tables:

* each series' label text (sorted, escaped, ``le`` in its place) is built once,
  when the series is first seen, and kept until the series is forgotten;
* each series' lines are kept with the value they were written for, and
  written again only when the value changed since the last scrape;
* the text is joined and encoded once.

A scrape then costs a copy of each table and a comparison per series, plus
formatting for the series that moved.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterable
from typing import Any

from prometheus_client.utils import floatToGoString

from windvane.metrics.metric import Kind, Metric
from windvane.metrics.prometheus_table import Key, SeriesTable

_MAX = sys.float_info.max


def number(value: float) -> str:
    """``value`` as prometheus_client writes it (``floatToGoString``), the common case inline."""
    value = float(value)
    if -_MAX <= value < 1e6:  # finite, and below where Go switches to exponents
        return repr(value)
    text: str = floatToGoString(value)  # type: ignore[no-untyped-call]
    return text


def _escape(value: str) -> str:
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


class _Text:
    """The fixed text of one metric (headers, per-series label text) and its series' last lines."""

    def __init__(self, table: SeriesTable) -> None:
        m: Metric = table.metric
        self.histogram = m.kind is Kind.HISTOGRAM
        kind = {Kind.COUNTER: "counter", Kind.GAUGE: "gauge", Kind.HISTOGRAM: "histogram"}[m.kind]
        family = m.name
        if m.kind is Kind.COUNTER and family.endswith("_total"):
            family = family[: -len("_total")]  # as CounterMetricFamily names it
        self.sample = family + "_total" if m.kind is Kind.COUNTER else family
        text_name = self.sample if m.kind is Kind.COUNTER else family
        help_text = m.help.replace("\\", r"\\").replace("\n", r"\n")
        self.head = f"# HELP {text_name} {help_text}\n# TYPE {text_name} {kind}\n"
        self.om_head = f"# HELP {family} {_escape(m.help)}\n# TYPE {family} {kind}\n"
        self.family = family
        self.names = m.labels
        self.order = sorted(range(len(m.labels)), key=m.labels.__getitem__)
        self.les = table.les
        #: key -> [line prefixes, value written, text]
        self.series: dict[Key, list[Any]] = {}

    def _prefixes(self, key: Key) -> list[str]:
        pairs = [(self.names[i], f'{self.names[i]}="{_escape(key[i])}"') for i in self.order]
        labels = ",".join(p for _, p in pairs)
        if not self.histogram:
            return [f"{self.sample}{{{labels}}} " if labels else f"{self.sample} "]
        before = "".join(p + "," for n, p in pairs if n < "le")
        after = "".join("," + p for n, p in pairs if n > "le")
        name, braced = self.family, f"{{{labels}}}" if labels else ""
        buckets = [f'{name}_bucket{{{before}le="{le}"{after}}} ' for le in self.les]
        return [*buckets, f"{name}_count{braced} ", f"{name}_sum{braced} "]

    def _lines(self, prefixes: list[str], value: Any) -> str:
        if not self.histogram:
            return f"{prefixes[0]}{number(value)}\n"
        parts, running = [], 0
        for prefix, count in zip(prefixes, value[:-1], strict=False):
            running += count  # bucket counts are ints: "12.0" is what floatToGoString writes
            parts.append(f"{prefix}{running}.0\n" if running < 1_000_000 else f"{prefix}{number(running)}\n")
        parts.append(f"{prefixes[-2]}{number(running)}\n{prefixes[-1]}{number(value[-1])}\n")
        return "".join(parts)

    def write(self, rows: Iterable[tuple[Key, Any]], out: list[str]) -> None:
        """Append the lines of ``rows`` (a table's snapshot) to ``out``; forget series not in it."""
        old, kept = self.series, {}
        for key, value in rows:
            entry = old.get(key)
            if entry is None:
                entry = [self._prefixes(key), None, ""]
            if entry[1] != value:
                entry[1], entry[2] = value, self._lines(entry[0], value)
            kept[key] = entry
            out.append(entry[2])
        self.series = kept


class Exposition:
    """Renders tables as the text format 0.0.4 or OpenMetrics 1.0.0 (see the module doc).

    One scrape renders at a time (the kept lines are shared)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._texts: dict[int, _Text] = {}

    def render(self, tables: Iterable[SeriesTable], *, openmetrics: bool = False) -> bytes:
        out: list[str] = []
        with self._lock:
            for table in tables:
                text = self._texts.get(id(table))
                if text is None:
                    text = self._texts[id(table)] = _Text(table)
                out.append(text.om_head if openmetrics else text.head)
                text.write(table.snapshot(), out)
        if openmetrics:
            out.append("# EOF\n")
        return "".join(out).encode("utf-8")
