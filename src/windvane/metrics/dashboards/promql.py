"""PromQL built from catalogue entries, correct by construction.

A :class:`Scope` is what one dashboard's queries see: the catalogue and the
template variables the dashboard declares. Each helper checks the metric's
kind before it writes a query (``rate``/``increase`` only on counters,
``histogram_quantile`` only on histograms, gauges read as they are) and adds a
``label=~"$variable"`` matcher for every declared variable the metric carries,
so the dashboard's variables filter every panel they apply to. A name missing
from the catalogue raises :class:`MissingMetric`; the dashboard leaves that
panel out (metrics another part of the project adds later appear on the next
generation).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from windvane.errors import WindvaneError
from windvane.metrics.metric import Kind, Metric

#: Grafana's interval macro for rates: at least four scrape intervals, so a rate always has samples.
RATE_WINDOW = "$__rate_interval"


class MissingMetric(WindvaneError, LookupError):
    """A panel needs a metric the catalogue does not define (yet)."""

    def __init__(self, name: str) -> None:
        super().__init__(f"metric {name} is not in the catalogue")
        self.name = name


class QueryError(WindvaneError, ValueError):
    """A query asks a metric for something its kind or labels cannot give."""


@dataclass(frozen=True)
class Scope:
    """The catalogue (``by_name``) and the template variables of one dashboard.

    ``variables`` maps a label key to the name of the variable filtering it
    (``{"instance": "instance", "dag_id": "dag_id"}``); ``instance`` is a label
    Prometheus adds to every scraped series.
    """

    by_name: Mapping[str, Metric]
    variables: Mapping[str, str]

    def metric(self, name: str) -> Metric:
        try:
            return self.by_name[name]
        except KeyError:
            raise MissingMetric(name) from None

    def selector(self, name: str, suffix: str = "", **matchers: str) -> str:
        """``name+suffix{...}``: the dashboard's variable filters plus ``matchers``.

        A matcher value starting with ``!`` or ``~`` becomes ``!=`` or ``=~``;
        its key must be one of the metric's labels.
        """
        metric = self.metric(name)
        parts = [
            f'{key}=~"${var}"'
            for key, var in self.variables.items()
            if key == "instance" or key in metric.label_set
        ]
        for key, value in matchers.items():
            if key not in metric.label_set:
                raise QueryError(
                    f"{name} has no label {key!r} (labels: {', '.join(metric.labels) or 'none'})"
                )
            op = {"!": "!=", "~": "=~"}.get(value[:1], "=")
            parts.append(f'{key}{op}"{value if op == "=" else value[1:]}"')
        return f"{name}{suffix}{{{','.join(parts)}}}"

    def _check(self, name: str, kind: Kind, by: Sequence[str]) -> Metric:
        metric = self.metric(name)
        if metric.kind is not kind:
            raise QueryError(f"{name} is a {metric.kind}, not a {kind}")
        unknown = [key for key in by if key != "instance" and key not in metric.label_set]
        if unknown:
            raise QueryError(f"{name} cannot be grouped by {unknown}")
        return metric

    def rate(
        self, name: str, by: Sequence[str] = (), window: str = RATE_WINDOW, fn: str = "rate", **matchers: str
    ) -> str:
        """``sum by (by) (rate(counter[window]))`` (``fn="increase"`` for counts over the window)."""
        self._check(name, Kind.COUNTER, by)
        return f"sum{_by(by)}({fn}({self.selector(name, **matchers)}[{window}]))"

    def increase(self, name: str, by: Sequence[str] = (), window: str = RATE_WINDOW, **matchers: str) -> str:
        return self.rate(name, by, window, fn="increase", **matchers)

    def observed(
        self, name: str, by: Sequence[str] = (), window: str = RATE_WINDOW, fn: str = "rate", **matchers: str
    ) -> str:
        """Observations per second (or ``fn="increase"``: count) of a histogram, from its ``_count``."""
        self._check(name, Kind.HISTOGRAM, by)
        return f"sum{_by(by)}({fn}({self.selector(name, '_count', **matchers)}[{window}]))"

    def quantile(self, q: float, name: str, by: Sequence[str] = (), **matchers: str) -> str:
        """``histogram_quantile(q, sum by (le, by) (rate(name_bucket[window])))``."""
        self._check(name, Kind.HISTOGRAM, by)
        bucket = self.selector(name, "_bucket", **matchers)
        return f"histogram_quantile({q:g}, sum{_by(('le', *by))}(rate({bucket}[{RATE_WINDOW}])))"

    def mean(self, name: str, by: Sequence[str] = (), **matchers: str) -> str:
        """Mean observation over the window: rate of ``_sum`` over rate of ``_count``."""
        self._check(name, Kind.HISTOGRAM, by)
        total = self.selector(name, "_sum", **matchers)
        count = self.selector(name, "_count", **matchers)
        return f"sum{_by(by)}(rate({total}[{RATE_WINDOW}])) / sum{_by(by)}(rate({count}[{RATE_WINDOW}]))"

    def gauge(self, name: str, by: Sequence[str] = (), agg: str = "sum", **matchers: str) -> str:
        """``agg by (by) (gauge)``."""
        self._check(name, Kind.GAUGE, by)
        return f"{agg}{_by(by)}({self.selector(name, **matchers)})"

    def age(self, name: str, **matchers: str) -> str:
        """Seconds since the newest value of a ``*_timestamp_seconds`` gauge."""
        if not name.endswith("_timestamp_seconds"):
            raise QueryError(f"{name} is not a Unix-time gauge")
        return f"time() - {self.gauge(name, agg='max', **matchers)}"


def _by(keys: Sequence[str]) -> str:
    return f" by ({', '.join(keys)}) " if keys else ""
