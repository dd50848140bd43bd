"""The Grafana dashboards: generated from the catalogue, checked in as generated, correct by construction."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from windvane.metrics.__main__ import dashboard_files, main
from windvane.metrics.catalogue import BY_NAME
from windvane.metrics.dashboard_check import dashboard_expressions, unknown_metrics
from windvane.metrics.dashboards import dashboards, rendered
from windvane.metrics.dashboards.promql import MissingMetric, QueryError, Scope
from windvane.metrics.metric import DURATION_BUCKETS, Kind, Metric

ROOT = Path(__file__).resolve().parents[2]
UIDS = {
    "overview.json": "windvane-overview",
    "scheduler.json": "windvane-scheduler",
    "executor.json": "windvane-executor",
    "dag.json": "windvane-dag",
    "parsing.json": "windvane-parsing",
    "alerting.json": "windvane-alerting",
}
DELIVERY_LATENCY = Metric(
    "windvane_alerts_delivery_latency_seconds",
    Kind.HISTOGRAM,
    "seconds",
    "From the fact to its channel accepting the alert.",
    "alerts.delivery_latency",
    ("channel",),
    buckets=DURATION_BUCKETS,
)


def test_checked_in_files_equal_the_generators_output() -> None:
    for rel, text in dashboard_files().items():
        path = ROOT / rel
        assert path.exists() and path.read_text(encoding="utf-8") == text, (
            f"{rel} is stale: run python -m windvane.metrics dashboards --write"
        )
    assert sorted(p.name for p in (ROOT / "dashboards").glob("*.json")) == sorted(UIDS)


def test_check_mode_names_stale_files_and_write_fixes_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["dashboards", "--check", "--root", str(tmp_path)]) == 1
    assert "dashboards/overview.json is stale" in capsys.readouterr().err
    assert main(["dashboards", "--write", "--root", str(tmp_path)]) == 0
    assert main(["dashboards", "--check", "--root", str(tmp_path)]) == 0
    assert (tmp_path / "docs/observability.md").exists()


def test_six_dashboards_with_stable_uids_and_the_variables_they_filter_by() -> None:
    boards = {board.file: board for board in dashboards()}
    assert {file: board.uid for file, board in boards.items()} == UIDS
    assert [v.name for v in boards["dag.json"].variables] == ["instance", "dag_id", "task_id"]
    assert [v.name for v in boards["executor.json"].variables] == ["instance", "pool"]
    for file in UIDS:
        data = json.loads(rendered()[f"dashboards/{file}"])
        variables = {v["name"]: v for v in data["templating"]["list"]}
        source = variables["datasource"]
        assert (source["type"], source["query"]) == ("datasource", "prometheus")
        assert "instance" in variables


def test_every_panel_answers_a_question_and_queries_the_datasource_variable() -> None:
    for rel, text in rendered().items():
        data = json.loads(text)
        panels = [p for p in data["panels"] if p["type"] != "row"]
        assert panels, rel
        assert len({p["id"] for p in data["panels"]}) == len(data["panels"]), rel
        for panel in panels:
            assert panel["description"].split("?")[0] and "?" in panel["description"], panel["title"]
            assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
            assert panel["targets"] and all(t["expr"] for t in panel["targets"])
        assert unknown_metrics(dashboard_expressions(data)) == [], rel


def _checks(expr: str, unit: str) -> None:
    for name in set(re.findall(r"\bwindvane_[a-z0-9_]+", expr)):
        base = re.sub(r"_(bucket|sum|count)$", "", name)
        metric = BY_NAME[base if base in BY_NAME else name]
        if metric.kind is Kind.COUNTER:
            assert re.search(rf"(rate|increase)\({name}\{{[^}}]*\}}\[", expr), expr
        if name.endswith("_bucket"):
            assert re.search(rf"histogram_quantile\(0\.\d+, sum by \(le[,)].*\(rate\({name}\{{", expr), expr
            if metric.unit == "seconds":
                assert unit == "s", expr
    assert "rate(" not in expr or "$__rate_interval" in expr or "$__range" in expr


def test_counters_are_rated_histograms_are_quantiles_of_bucket_rates_and_durations_in_seconds() -> None:
    for board in dashboards():
        for panel in board.panels:
            for target in panel.targets:
                _checks(target.expr, panel.unit)


def test_the_scope_refuses_what_a_metric_kind_or_labels_cannot_give() -> None:
    scope = Scope(BY_NAME, {"instance": "instance", "dag_id": "dag_id"})
    with pytest.raises(QueryError, match="is a gauge, not a counter"):
        scope.rate("windvane_pool_open_slots")
    with pytest.raises(QueryError, match="is a counter, not a histogram"):
        scope.quantile(0.95, "windvane_ti_finish_total")
    with pytest.raises(QueryError, match="has no label 'pool'"):
        scope.selector("windvane_ti_finish_total", pool="x")
    with pytest.raises(QueryError, match="cannot be grouped by"):
        scope.gauge("windvane_pool_open_slots", ["dag_id"])
    with pytest.raises(MissingMetric, match="windvane_nope_total"):
        scope.rate("windvane_nope_total")
    assert (
        scope.rate("windvane_ti_finish_total", ["state"], state="!skipped")
        == 'sum by (state) (rate(windvane_ti_finish_total{instance=~"$instance",dag_id=~"$dag_id",'
        'state!="skipped"}[$__rate_interval]))'
    )
    assert scope.quantile(0.95, "windvane_scheduler_loop_duration_seconds") == (
        "histogram_quantile(0.95, sum by (le) (rate("
        'windvane_scheduler_loop_duration_seconds_bucket{instance=~"$instance"}[$__rate_interval])))'
    )


def test_a_panel_whose_metric_is_not_catalogued_yet_appears_once_it_is() -> None:
    without = {name: metric for name, metric in BY_NAME.items() if name != DELIVERY_LATENCY.name}
    [alerting] = [b for b in dashboards(without) if b.file == "alerting.json"]
    assert ("Delivery latency p95", DELIVERY_LATENCY.name) in alerting.skipped
    assert all(p.title != "Delivery latency p95" for p in alerting.panels)
    with_it = {**without, DELIVERY_LATENCY.name: BY_NAME.get(DELIVERY_LATENCY.name, DELIVERY_LATENCY)}
    [grown] = [b for b in dashboards(with_it) if b.file == "alerting.json"]
    [panel] = [p for p in grown.panels if p.title == "Delivery latency p95"]
    assert "windvane_alerts_delivery_latency_seconds_bucket" in panel.targets[0].expr
    assert all(title != "Delivery latency p95" for title, _ in grown.skipped)


def test_the_docs_page_describes_every_panel() -> None:
    text = (ROOT / "docs/observability.md").read_text(encoding="utf-8")
    for board in dashboards():
        assert f"uid `{board.uid}`" in text
        for panel in board.panels:
            assert f"| {panel.title} | {panel.question} |" in text
