"""Grafana dashboards built from the metrics catalogue (``python -m windvane.metrics dashboards --write``).

* :mod:`.promql` — PromQL helpers that check a metric's kind and labels (:class:`Scope`).
* :mod:`.model` — :class:`Dashboard`, :class:`Row`, :class:`Panel`, :class:`Target` and the
  :class:`Board` that dashboards are written with.
* :mod:`.grafana` — a dashboard as Grafana JSON.
* one module per dashboard: :mod:`.overview`, :mod:`.scheduler`, :mod:`.executor`, :mod:`.dag`,
  :mod:`.parsing`, :mod:`.alerting`.
* :mod:`.docs` — ``docs/observability.md``, the panels described from the same objects.

May import :mod:`windvane.metrics.catalogue` / :mod:`windvane.metrics.metric` and
:mod:`windvane.errors`; nothing of the core, the CLI or settings.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from windvane.metrics.catalogue import BY_NAME
from windvane.metrics.dashboards import alerting, dag, executor, overview, parsing, scheduler
from windvane.metrics.dashboards.grafana import render
from windvane.metrics.dashboards.model import Dashboard, Panel, Row, Target, Viz
from windvane.metrics.metric import Metric

#: Folder of the dashboards (relative to the repository root).
FOLDER = "dashboards"
BUILDERS: tuple[Callable[[Mapping[str, Metric]], Dashboard], ...] = (
    overview.build,
    scheduler.build,
    executor.build,
    dag.build,
    parsing.build,
    alerting.build,
)


def dashboards(by_name: Mapping[str, Metric] = BY_NAME) -> tuple[Dashboard, ...]:
    """Every dashboard, built from ``by_name`` (the catalogue)."""
    return tuple(build(by_name) for build in BUILDERS)


def rendered(by_name: Mapping[str, Metric] = BY_NAME) -> dict[str, str]:
    """``dashboards/<file>`` -> its Grafana JSON."""
    return {f"{FOLDER}/{board.file}": render(board) for board in dashboards(by_name)}


__all__ = ["FOLDER", "Dashboard", "Panel", "Row", "Target", "Viz", "dashboards", "render", "rendered"]
