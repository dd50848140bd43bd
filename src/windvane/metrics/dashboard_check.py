"""Check that dashboards and alert rules use only catalogued metrics.

Grafana dashboards (JSON: ``panels[].targets[].expr``, rows nested) and
Prometheus rule files (``groups[].rules[].expr``) are scanned for
``windvane_*`` series names; histogram series (``_bucket``, ``_sum``,
``_count``) count as their histogram. Anything left over is a metric no
code emits, which would show as an empty panel or an alert that never fires.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from windvane.metrics.catalogue import CATALOGUE
from windvane.metrics.metric import Kind

_NAME = re.compile(r"\bwindvane_[a-zA-Z0-9_]+")
_HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")


def known_series() -> set[str]:
    """Every series name the catalogue can produce."""
    names: set[str] = set()
    for metric in CATALOGUE:
        names.add(metric.name)
        if metric.kind is Kind.HISTOGRAM:
            names.update(metric.name + suffix for suffix in _HISTOGRAM_SUFFIXES)
    return names


def names_in(expressions: Iterable[str]) -> set[str]:
    """``windvane_*`` names mentioned in PromQL expressions."""
    found: set[str] = set()
    for expr in expressions:
        found.update(_NAME.findall(expr))
    return found


def dashboard_expressions(dashboard: Mapping[str, Any]) -> Iterator[str]:
    """Every query expression of a Grafana dashboard (panels, nested rows, template variables)."""
    stack: list[Any] = [dashboard]
    while stack:
        node = stack.pop()
        if isinstance(node, Mapping):
            for key in ("expr", "query", "definition"):
                value = node.get(key)
                if isinstance(value, str):
                    yield value
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


def rule_expressions(rules: Mapping[str, Any]) -> Iterator[str]:
    """Every ``expr`` of a Prometheus rule file (already parsed from YAML)."""
    for group in rules.get("groups", []) or []:
        for rule in group.get("rules", []) or []:
            expr = rule.get("expr")
            if isinstance(expr, str):
                yield expr


def unknown_metrics(expressions: Iterable[str]) -> list[str]:
    """Names used by ``expressions`` that the catalogue does not define, sorted."""
    return sorted(names_in(expressions) - known_series())
