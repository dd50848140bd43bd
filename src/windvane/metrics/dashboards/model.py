"""Dashboards as data: :class:`Dashboard` -> :class:`Row` -> :class:`Panel` -> :class:`Target`.

Dashboards are written with a :class:`Board` (one per dashboard module):
``board.panel(title, question, queries, unit=...)`` calls ``queries(scope)``
with the dashboard's :class:`~.promql.Scope`; a panel whose queries need a
metric the catalogue lacks is left out and listed in
:attr:`Dashboard.skipped`, so the next generation after that metric lands
shows it. Rendering to Grafana JSON is :mod:`.grafana`'s job.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from windvane.metrics.dashboards.promql import MissingMetric, Scope
from windvane.metrics.metric import Metric


class Viz(StrEnum):
    """The Grafana panel types we use."""

    TIMESERIES = "timeseries"
    STAT = "stat"
    BARGAUGE = "bargauge"


#: Grafana unit ids: seconds, a 0-1 ratio, events per second, plain numbers.
SECONDS = "s"
RATIO = "percentunit"
PER_SECOND = "suffix:/s"
COUNT = "short"


@dataclass(frozen=True)
class Target:
    """One query of a panel; ``legend`` is Grafana's legend format (``{{dag_id}}``)."""

    expr: str
    legend: str = ""
    instant: bool = False


@dataclass(frozen=True)
class Panel:
    """``question`` is the panel's description: what it answers, for the reader of the dashboard."""

    title: str
    question: str
    targets: tuple[Target, ...]
    unit: str
    viz: Viz = Viz.TIMESERIES
    width: int = 12
    #: Threshold steps above the base colour (green): (value, colour).
    thresholds: tuple[tuple[float, str], ...] = ()


@dataclass(frozen=True)
class Row:
    title: str
    panels: tuple[Panel, ...]


@dataclass(frozen=True)
class Variable:
    """A query template variable over the values of one label (multi-select, with All)."""

    name: str
    label: str
    query: str


@dataclass(frozen=True)
class Dashboard:
    uid: str
    title: str
    question: str
    #: File name under ``dashboards/``.
    file: str
    variables: tuple[Variable, ...]
    rows: tuple[Row, ...]
    #: (panel title, missing metric) of panels left out for lack of a catalogued metric.
    skipped: tuple[tuple[str, str], ...] = ()

    @property
    def panels(self) -> tuple[Panel, ...]:
        return tuple(panel for row in self.rows for panel in row.panels)


#: The template variables a dashboard may declare, by the label they filter.
VARIABLES: dict[str, Variable] = {
    "instance": Variable("instance", "Instance", "label_values(windvane_build_info, instance)"),
    "dag_id": Variable(
        "dag_id", "DAG", 'label_values(windvane_ti_start_total{instance=~"$instance"}, dag_id)'
    ),
    "task_id": Variable(
        "task_id",
        "Task",
        'label_values(windvane_ti_start_total{instance=~"$instance",dag_id=~"$dag_id"}, task_id)',
    ),
    "pool": Variable("pool", "Pool", 'label_values(windvane_pool_open_slots{instance=~"$instance"}, pool)'),
}

Queries = Callable[[Scope], Sequence[Target]]


@dataclass
class Board:
    """Collects one dashboard's rows and panels (see the module docstring)."""

    uid: str
    title: str
    question: str
    file: str
    by_name: Mapping[str, Metric]
    variables: Sequence[str] = ("instance",)
    _rows: list[tuple[str, list[Panel]]] = field(default_factory=list)
    _skipped: list[tuple[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        unknown = [name for name in self.variables if name not in VARIABLES]
        if unknown:
            raise ValueError(f"dashboard {self.uid}: unknown variables {unknown}")
        self.scope = Scope(self.by_name, {name: name for name in self.variables})

    def row(self, title: str) -> None:
        self._rows.append((title, []))

    def panel(
        self,
        title: str,
        question: str,
        queries: Queries,
        *,
        unit: str,
        viz: Viz = Viz.TIMESERIES,
        width: int = 12,
        thresholds: tuple[tuple[float, str], ...] = (),
    ) -> None:
        """Add a panel to the latest row, unless its queries need a metric the catalogue lacks."""
        if not self._rows:
            raise ValueError(f"dashboard {self.uid}: panel {title!r} comes before any row")
        try:
            targets = tuple(queries(self.scope))
        except MissingMetric as missing:
            self._skipped.append((title, missing.name))
            return
        self._rows[-1][1].append(Panel(title, question, targets, unit, viz, width, thresholds))

    def build(self) -> Dashboard:
        rows = tuple(Row(title, tuple(panels)) for title, panels in self._rows if panels)
        return Dashboard(
            uid=self.uid,
            title=self.title,
            question=self.question,
            file=self.file,
            variables=tuple(VARIABLES[name] for name in self.variables),
            rows=rows,
            skipped=tuple(self._skipped),
        )
