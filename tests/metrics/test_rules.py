"""The Prometheus rules: valid for promtool, unit-tested with synthetic series, catalogued names only."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import yaml

from tests.metrics.prom_tools import require
from windvane.metrics.dashboard_check import rule_expressions, unknown_metrics

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "dashboards/prometheus/windvane-rules.yml"
RULE_TESTS = ROOT / "dashboards/prometheus/tests/windvane-rules.test.yml"
#: What issue 11 asks the alerts to cover -> the alert that does.
REQUIRED_ALERTS = {
    "scheduler heartbeat absent": "WindvaneSchedulerHeartbeatAbsent",
    "loop duration high": "WindvaneSchedulerLoopSlow",
    "import errors present": "WindvaneImportErrors",
    "starving pool tasks": "WindvanePoolStarving",
    "schedule delay over threshold": "WindvaneScheduleDelayHigh",
    "task failure ratio high": "WindvaneTaskFailureRatioHigh",
    "alert delivery failing": "WindvaneAlertDeliveryFailing",
    "outbox growing": "WindvaneAlertOutboxGrowing",
    "SLA misses": "WindvaneSlaMissed",
}


def rules() -> list[dict[str, Any]]:
    data = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    return [rule for group in data["groups"] for rule in group["rules"]]


def test_promtool_accepts_the_rules() -> None:
    done = subprocess.run(
        [require("promtool"), "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(rules())} rules found" in done.stdout


def test_the_rules_unit_tests_pass() -> None:
    done = subprocess.run(
        [require("promtool"), "test", "rules", str(RULE_TESTS)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0 and "SUCCESS" in done.stdout, done.stdout + done.stderr


def test_every_alert_is_unit_tested_firing_and_every_recording_rule_is_named_windvane_colon() -> None:
    tests = yaml.safe_load(RULE_TESTS.read_text(encoding="utf-8"))["tests"]
    fired = {
        case["alertname"] for test in tests for case in test.get("alert_rule_test", []) if case["exp_alerts"]
    }
    alerts = {rule["alert"] for rule in rules() if "alert" in rule}
    assert alerts == fired
    assert set(REQUIRED_ALERTS.values()) <= alerts
    for rule in rules():
        if "record" in rule:
            assert rule["record"].startswith("windvane:") and rule["record"].count(":") == 2, rule
        else:
            assert rule["labels"]["severity"] in ("warning", "critical"), rule
            assert {"summary", "description", "dashboard"} <= set(rule["annotations"]), rule


def test_rules_use_only_catalogued_metrics() -> None:
    assert unknown_metrics(rule_expressions(yaml.safe_load(RULES.read_text(encoding="utf-8")))) == []


def test_the_docs_list_every_alert() -> None:
    text = (ROOT / "docs/observability.md").read_text(encoding="utf-8")
    for rule in rules():
        if "alert" in rule:
            assert f"| `{rule['alert']}` |" in text


def test_the_docs_count_the_rules_right() -> None:
    text = " ".join((ROOT / "docs/observability.md").read_text(encoding="utf-8").split())
    records = sum("record" in rule for rule in rules())
    alerts = sum("alert" in rule for rule in rules())
    assert f"holds {records} recording rules" in text and f"and {alerts} alerts" in text
    assert f"queries, {records} recording rules)" in text
