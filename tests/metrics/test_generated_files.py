"""docs/metrics.md and compose/statsd-mapping.yml: fresh, and the mapping turns what the StatsD sink
sends (both forms) into the very series the native endpoint has — checked with a small model of
statsd_exporter's matching (glob rules first, in order, then regex rules)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from tests.metrics.helpers import Line, StatsdListener
from windvane.metrics import catalogue as m
from windvane.metrics.__main__ import REGENERATE, main, stale
from windvane.metrics.mapping import Rule, render_mapping, rules
from windvane.metrics.metric import Kind, Metric
from windvane.metrics.multi_sink import MultiSink
from windvane.metrics.prometheus_sink import PrometheusSink
from windvane.metrics.statsd_names import name_value
from windvane.metrics.statsd_sink import StatsdSink

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = {
    "dag_id": "etl_daily",
    "task_id": "grp.load",
    "pool": "default_pool",
    "executor": "local",
    "file": "team/etl.py",
    "channel": "slack",
    "version": "0.1.0",
    "service": "scheduler",
}


def test_generated_files_are_fresh() -> None:
    found = stale(ROOT)
    assert not found, f"{', '.join(found)} stale: run {REGENERATE}"


def test_check_mode_reports_stale_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--root", str(tmp_path), "--check"]) == 1
    assert "docs/metrics.md is stale: run python -m windvane.metrics" in capsys.readouterr().err
    assert main(["--root", str(tmp_path)]) == 0
    assert main(["--root", str(tmp_path), "--check"]) == 0


def test_docs_list_every_metric_with_both_names() -> None:
    text = (ROOT / "docs/metrics.md").read_text()
    for metric in m.CATALOGUE:
        assert f"`{metric.name}`" in text and f"`{metric.statsd}`" in text
    assert "## Series budget" in text and "statsd_on" in text and "prometheus_port" in text


def labels_for(metric: Metric, variant: int = 0) -> dict[str, str]:
    out = {}
    for key in metric.labels:
        closed = metric.values_of(key)
        out[key] = closed[variant % len(closed)] if closed else SAMPLE[key]
    return out


def emit_everything(sink: MultiSink) -> None:
    for metric in m.CATALOGUE:
        for variant in range(2):
            labels = labels_for(metric, variant)
            if metric.kind is Kind.COUNTER:
                sink.incr(metric, 1, **labels)
            elif metric.kind is Kind.GAUGE:
                sink.gauge(metric, 3 + variant, **labels)
            else:
                sink.observe(metric, 0.5, **labels)


def statsd_exporter_map(rule_list: list[Rule], line: Line) -> tuple[Metric, dict[str, str]] | None:
    """The (metric, labels) statsd_exporter would produce for ``line``: globs first, then regexes."""
    parts = line.name.split(".")
    for rule in rule_list:
        if rule.regex:
            continue
        pattern = rule.match.split(".")
        if len(pattern) == len(parts) and all(p in ("*", got) for p, got in zip(pattern, parts, strict=True)):
            captures = [got for p, got in zip(pattern, parts, strict=True) if p == "*"]
            return rule.metric, _labels(rule, captures, line)
    for rule in rule_list:
        found = re.fullmatch(rule.match, line.name) if rule.regex else None
        if found:
            return rule.metric, _labels(rule, list(found.groups()), line)
    return None


def _labels(rule: Rule, captures: list[str], line: Line) -> dict[str, str]:
    labels = {key: captures[int(ref[1:]) - 1] for key, ref in rule.labels}
    labels.update(line.tags)
    return labels


def _native(registry: CollectorRegistry, metric: Metric, labels: dict[str, str]) -> float | None:
    suffix = "_count" if metric.kind is Kind.HISTOGRAM else ""
    return registry.get_sample_value(metric.name + suffix, labels)


@pytest.mark.parametrize("tags", [True, False], ids=["dogstatsd-tags", "legacy-names"])
def test_the_mapping_gives_the_native_names_and_labels(statsd_listener: StatsdListener, tags: bool) -> None:
    registry = CollectorRegistry()
    statsd = StatsdSink(host="127.0.0.1", port=statsd_listener.port, datadog_tags=tags, strict=True)
    emit_everything(MultiSink([statsd, PrometheusSink(registry)], strict=True))
    rule_list = rules()
    used: set[str] = set()
    lines = statsd_listener.drain()
    assert len(lines) == 2 * len(m.CATALOGUE)
    for line in lines:
        mapped = statsd_exporter_map(rule_list, line)
        assert mapped is not None, f"{line.name} matches no rule"
        metric, labels = mapped
        used.add(metric.name)
        if tags:
            assert _native(registry, metric, labels) is not None, (line, labels)
            continue
        # Legacy names carry the labels of the legacy template (values made name-safe), no others.
        in_name = set(metric.name_labels(metric.statsd_legacy or metric.statsd))
        assert set(labels) == in_name, line
        native = [
            dict(s.labels)
            for f in registry.collect()
            if f.name == metric.name.removesuffix("_total")
            for s in f.samples
            if s.name in (metric.name, metric.name + "_count")
        ]
        assert any(all(name_value(k, n[k]) == v for k, v in labels.items()) for n in native), line
    assert used == set(m.BY_NAME)


def test_mapping_timers_are_histograms_with_the_native_buckets() -> None:
    text = render_mapping()
    block = text.split('name: "windvane_task_duration_seconds"')[1].split("- match:")[0]
    assert "observer_type: histogram" in block
    assert "buckets: [0.001, 0.01, 0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600, 14400]" in block
    assert 'match: "windvane.dagrun.duration.*"' in text
    assert "match_metric_type: observer" in text


def test_mapping_for_another_prefix(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--mapping-prefix", "airflow"]) == 0
    out = capsys.readouterr().out
    assert 'match: "airflow.ti.finish"' in out and r'"^airflow\\.ti\\.finish\\.' in out
