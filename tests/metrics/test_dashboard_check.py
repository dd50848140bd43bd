"""Dashboards and alert rules may only use catalogued metrics."""

from __future__ import annotations

import json
from pathlib import Path

from windvane.metrics.dashboard_check import dashboard_expressions, rule_expressions, unknown_metrics

ROOT = Path(__file__).parents[2]

DASHBOARD = {
    "panels": [
        {
            "type": "row",
            "panels": [
                {
                    "targets": [
                        {
                            "expr": "histogram_quantile(0.95, sum by (le) (rate("
                            "windvane_scheduler_loop_duration_seconds_bucket[5m])))"
                        }
                    ]
                },
            ],
        },
        {
            "targets": [
                {"expr": "sum(rate(windvane_ti_finish_total{state='failed'}[5m]))"},
                {"expr": "windvane_scheduler_loop_seconds_typo"},
            ]
        },
    ],
    "templating": {"list": [{"query": "label_values(windvane_ti_finish_total, dag_id)"}]},
}


def test_a_typo_in_a_nested_panel_is_reported_and_valid_series_are_not() -> None:
    assert unknown_metrics(dashboard_expressions(DASHBOARD)) == ["windvane_scheduler_loop_seconds_typo"]


def test_rule_files_are_checked_too() -> None:
    rules = {
        "groups": [
            {
                "rules": [
                    {"alert": "SchedulerDown", "expr": "rate(windvane_scheduler_heartbeat_total[1m]) == 0"},
                    {"alert": "Bad", "expr": "windvane_not_a_metric > 0"},
                ]
            }
        ]
    }
    assert unknown_metrics(rule_expressions(rules)) == ["windvane_not_a_metric"]


def test_every_dashboard_in_the_repository_uses_only_catalogued_metrics() -> None:
    # Shipped dashboards come with a later issue; any JSON dashboard added under dashboards/ is checked here.
    for path in sorted((ROOT / "dashboards").glob("**/*.json")):
        assert unknown_metrics(dashboard_expressions(json.loads(path.read_text()))) == [], path
