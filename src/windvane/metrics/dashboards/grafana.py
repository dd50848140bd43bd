"""A :class:`~.model.Dashboard` as Grafana dashboard JSON (schema version 39: Grafana 10.4 and later).

Every panel queries the ``${datasource}`` variable (any Prometheus data
source), so a dashboard imports into an existing Grafana as it is. Ids and
grid positions are derived from the order of rows and panels, so the output
is stable: the same catalogue gives byte-identical files.
"""

from __future__ import annotations

import json
from typing import Any

from windvane.metrics.dashboards.model import Dashboard, Panel, Row, Variable, Viz

SCHEMA_VERSION = 39
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
PANEL_HEIGHT = 8
GRID_WIDTH = 24
#: Every Windvane dashboard carries this tag; the dashboard links list them.
TAG = "windvane"


def render(dashboard: Dashboard) -> str:
    """The dashboard as pretty-printed JSON, ending with a newline."""
    return json.dumps(to_json(dashboard), indent=2, sort_keys=False) + "\n"


def to_json(dashboard: Dashboard) -> dict[str, Any]:
    panels: list[dict[str, Any]] = []
    y = 0
    for row in dashboard.rows:
        panels.append(_row(row, len(panels) + 1, y))
        y += 1
        x = 0
        height = 0
        for panel in row.panels:
            if x + panel.width > GRID_WIDTH:
                x, y = 0, y + height
            panels.append(_panel(panel, len(panels) + 1, x, y))
            x += panel.width
            height = PANEL_HEIGHT
        y += height
    return {
        "uid": dashboard.uid,
        "title": dashboard.title,
        "description": dashboard.question,
        "tags": [TAG],
        "timezone": "browser",
        "editable": True,
        "graphTooltip": 1,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "links": [
            {
                "type": "dashboards",
                "tags": [TAG],
                "asDropdown": True,
                "title": "Windvane",
                "includeVars": True,
                "keepTime": True,
            }
        ],
        "annotations": {"list": []},
        "templating": {"list": [_datasource_variable(), *(_variable(v) for v in dashboard.variables)]},
        "panels": panels,
    }


def _row(row: Row, panel_id: int, y: int) -> dict[str, Any]:
    return {
        "type": "row",
        "id": panel_id,
        "title": row.title,
        "collapsed": False,
        "gridPos": {"h": 1, "w": GRID_WIDTH, "x": 0, "y": y},
        "panels": [],
    }


def _panel(panel: Panel, panel_id: int, x: int, y: int) -> dict[str, Any]:
    steps: list[dict[str, Any]] = [{"color": "green", "value": None}]
    steps += [{"color": color, "value": value} for value, color in panel.thresholds]
    out: dict[str, Any] = {
        "type": str(panel.viz),
        "id": panel_id,
        "title": panel.title,
        "description": panel.question,
        "datasource": DATASOURCE,
        "gridPos": {"h": PANEL_HEIGHT, "w": panel.width, "x": x, "y": y},
        "fieldConfig": {
            "defaults": {"unit": panel.unit, "thresholds": {"mode": "absolute", "steps": steps}},
            "overrides": [],
        },
        "options": _options(panel.viz),
        "targets": [
            {
                "refId": chr(ord("A") + i),
                "datasource": DATASOURCE,
                "expr": target.expr,
                "legendFormat": target.legend or "__auto",
                "range": not target.instant,
                "instant": target.instant,
            }
            for i, target in enumerate(panel.targets)
        ],
    }
    if panel.viz is Viz.TIMESERIES:
        out["fieldConfig"]["defaults"]["custom"] = {
            "drawStyle": "line",
            "fillOpacity": 10,
            "spanNulls": False,
        }
    return out


def _options(viz: Viz) -> dict[str, Any]:
    reduce = {"calcs": ["lastNotNull"], "fields": "", "values": False}
    if viz is Viz.STAT:
        return {"reduceOptions": reduce, "colorMode": "value", "graphMode": "area", "textMode": "auto"}
    if viz is Viz.BARGAUGE:
        return {"reduceOptions": reduce, "orientation": "horizontal", "displayMode": "basic"}
    return {
        "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
        "tooltip": {"mode": "multi", "sort": "desc"},
    }


def _datasource_variable() -> dict[str, Any]:
    return {
        "name": "datasource",
        "label": "Data source",
        "type": "datasource",
        "query": "prometheus",
        "current": {},
        "hide": 0,
        "refresh": 1,
        "regex": "",
    }


def _variable(variable: Variable) -> dict[str, Any]:
    return {
        "name": variable.name,
        "label": variable.label,
        "type": "query",
        "datasource": DATASOURCE,
        "query": {"query": variable.query, "refId": f"{variable.name}-values"},
        "definition": variable.query,
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        "includeAll": True,
        "allValue": ".*",
        "multi": True,
        "refresh": 2,
        "sort": 1,
        "hide": 0,
        "regex": "",
    }
