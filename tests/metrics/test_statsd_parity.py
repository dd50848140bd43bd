"""StatsD and Prometheus yield the same series: real UDP traffic from the StatsD sink, driven with
every catalogue metric, replayed through ``compose/statsd-mapping.yml`` by a model of statsd_exporter
(:mod:`tests.metrics.statsd_exporter_model`), compared sample by sample with the native registry
driven by the same calls.

Tagged mode (the default) is exact, dots in label values included. The legacy dotted mode loses
exactly what ``legacy_lost_labels`` says (and docs/metrics.md lists) and makes label values in names
name-safe: nothing else differs."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from tests.metrics.helpers import StatsdListener
from tests.metrics.statsd_exporter_model import (
    Event,
    Exporter,
    MappingError,
    escape_metric_name,
    find_mapping,
    load_mapping,
    parse_line,
)
from windvane.metrics import catalogue as m
from windvane.metrics.metric import Kind, Metric
from windvane.metrics.multi_sink import MultiSink
from windvane.metrics.prometheus_sink import PrometheusSink
from windvane.metrics.statsd_names import legacy_lost_labels, name_value, render, wire_type
from windvane.metrics.statsd_sink import StatsdSink
from windvane.settings import MetricsSettings

ROOT = Path(__file__).resolve().parents[2]
#: Label values with what the issue saw mangled: dots in DAG ids, files and versions.
SAMPLE = {
    "dag_id": "team.etl",
    "task_id": "grp.load",
    "pool": "default_pool",
    "executor": "local",
    "queue": "default",
    "file": "team/sleepy.py",
    "channel": "email",
    "version": "0.1.0",
    "service": "dag-processor",
}
TIMER_VALUES = (0.0004, 0.001, 0.5, 2.0, 7200.0)
COUNT_VALUES = (0.0, 3.0, 120.0)

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def labels_for(metric: Metric, variant: int) -> dict[str, str]:
    out = {}
    for key in metric.labels:
        closed = metric.values_of(key)
        out[key] = closed[variant % len(closed)] if closed else SAMPLE[key]
    return out


def drive(sink: MultiSink) -> None:
    """Every catalogue metric, every value of its enumerated labels, several values each."""
    for metric in m.CATALOGUE:
        variants = max([len(metric.values_of(k) or ()) for k in metric.labels] + [1])
        for variant in range(variants):
            labels = labels_for(metric, variant)
            if metric.kind is Kind.COUNTER:
                sink.incr(metric, 1, **labels)
                sink.incr(metric, 2.5, **labels)
            elif metric.kind is Kind.GAUGE:
                sink.gauge(metric, 7.25, **labels)
                sink.gauge(metric, -2 if metric is m.POOL_OPEN_SLOTS else 3 + variant, **labels)
            else:
                for value in TIMER_VALUES if metric.is_timer else COUNT_VALUES:
                    sink.observe(metric, value, **labels)


def native_samples(registry: CollectorRegistry) -> Samples:
    out: Samples = {}
    for family in registry.collect():
        for sample in family.samples:
            labels = dict(sample.labels)
            if "le" in labels:
                labels["le"] = "+Inf" if labels["le"] == "+Inf" else repr(float(labels["le"]))
            out[(sample.name, tuple(sorted(labels.items())))] = sample.value
    return out


@pytest.fixture
def mapping_rules() -> list:  # type: ignore[type-arg]
    return load_mapping((ROOT / "compose/statsd-mapping.yml").read_text())


def capture(listener: StatsdListener, *, tags: bool) -> tuple[CollectorRegistry, list[str]]:
    """Drive both backends with every metric; the native registry and the UDP packets received."""
    registry = CollectorRegistry()
    statsd = StatsdSink(host="127.0.0.1", port=listener.port, datadog_tags=tags, strict=True)
    sink = MultiSink([statsd, PrometheusSink(registry, strict=True)], strict=True)
    sink.hold()  # packets of many lines, as the scheduler sends them
    drive(sink)
    sink.flush()
    listener.drain()
    sink.close()
    return registry, listener.packets


def replayed(rules: list, packets: list[str]) -> Exporter:  # type: ignore[type-arg]
    exporter = Exporter(rules)
    for packet in packets:
        exporter.replay(packet)
    assert not exporter.unmapped and not exporter.conflicts
    return exporter


def assert_same(got: Samples, want: Samples) -> None:
    assert sorted(set(got) - set(want)) == [] and sorted(set(want) - set(got)) == []
    for key, value in want.items():
        assert got[key] == pytest.approx(value, rel=1e-9, abs=1e-9), key


def test_the_default_is_tagged_statsd() -> None:
    assert MetricsSettings().statsd_datadog_tags is True


def test_tagged_statsd_through_the_mapping_equals_the_native_endpoint(
    statsd_listener: StatsdListener,
    mapping_rules: list,  # type: ignore[type-arg]
) -> None:
    registry, packets = capture(statsd_listener, tags=True)
    assert len(packets) > 1  # batched into several datagrams
    exporter = replayed(mapping_rules, packets)
    assert_same(exporter.samples, native_samples(registry))
    got = {dict(k[1]).get("file") for k in exporter.samples if k[0] == m.PARSE_LAST_DURATION.name}
    assert got == {"team/sleepy.py"}


def _legacy_view(native: Samples) -> Samples:
    """The native samples as the legacy form can carry them: lost labels dropped, values in names
    made name-safe, series that then coincide added up (gauges: they never coincide)."""
    by_sample = {}
    for metric in m.CATALOGUE:
        suffixes = ("_bucket", "_sum", "_count") if metric.kind is Kind.HISTOGRAM else ("",)
        by_sample.update({metric.name + s: metric for s in suffixes})
    out: Samples = {}
    for (name, labels), value in native.items():
        metric = by_sample[name]
        lost = set(legacy_lost_labels(metric))
        kept = tuple((k, v if k == "le" else name_value(k, v)) for k, v in labels if k not in lost)
        key = (name, kept)
        if metric.kind is Kind.GAUGE:
            assert key not in out, f"two native series of gauge {name} meet in the legacy form"
            out[key] = value
        else:
            out[key] = out.get(key, 0.0) + value
    return out


def test_legacy_statsd_loses_exactly_the_documented_labels_and_mangles_only_values_in_names(
    statsd_listener: StatsdListener,
    mapping_rules: list,  # type: ignore[type-arg]
) -> None:
    registry, packets = capture(statsd_listener, tags=False)
    exporter = replayed(mapping_rules, packets)
    assert_same(exporter.samples, _legacy_view(native_samples(registry)))
    # What the issue saw, now documented rather than accidental:
    files = {dict(k[1]).get("file") for k in exporter.samples if k[0] == m.PARSE_LAST_DURATION.name}
    assert files == {"team_sleepy_py"}
    assert legacy_lost_labels(m.DAGRUN_DURATION) == ("run_type",)
    assert legacy_lost_labels(m.TI_SUCCESSES) == ("dag_id", "task_id")
    docs = (ROOT / "docs/metrics.md").read_text()
    for metric in m.CATALOGUE:
        if legacy_lost_labels(metric):
            assert f"| `{metric.name}` | {', '.join(f'`{k}`' for k in legacy_lost_labels(metric))} |" in docs


def test_every_catalogue_metric_is_mapped_in_both_forms(mapping_rules: list) -> None:  # type: ignore[type-arg]
    for metric in m.CATALOGUE:
        for variant in range(2):
            labels = labels_for(metric, variant)
            for tags in (True, False):
                name, _ = render(metric, labels, tags=tags)
                kind = {"c": "counter", "g": "gauge"}.get(wire_type(metric), "observer")
                found = find_mapping(mapping_rules, "windvane." + name, kind)
                assert found is not None and found[1] == metric.name, (metric.name, tags)


# -- the model itself follows statsd_exporter's documented semantics --------------------------------
def test_model_parses_every_tag_style() -> None:
    assert parse_line("a.b:1|c|#x:1,y-z:2:3") == [Event("a.b", "counter", 1, {"x": "1", "y_z": "2:3"})]
    assert parse_line("a.b,x=1,y=2:5|g") == [Event("a.b", "gauge", 5, {"x": "1", "y": "2"})]
    assert parse_line("a.b#x=1:250|ms") == [Event("a.b", "observer", 0.25, {"x": "1"})]
    assert parse_line("a[x=1]b:3|h") == [Event("ab", "observer", 3, {"x": "1"})]
    assert parse_line("a,x=1:1|c|#y:2") == []  # mixed tagging styles are refused
    assert parse_line("a:1|c:2|c") == [Event("a", "counter", 1, {}), Event("a", "counter", 2, {})]
    assert parse_line("a:-3|g") == [Event("a", "gauge", -3, {}, relative=True)]
    assert parse_line("a:2|c|@0.5") == [Event("a", "counter", 4, {})]
    assert parse_line("no-colon") == [] and parse_line("a:x|c") == []


def test_model_matches_globs_first_in_order_then_regexes() -> None:
    rules = load_mapping(
        """
mappings:
- match: "^a\\\\.(.*)$"
  match_type: regex
  name: "from_regex"
- match: "a.*.c"
  name: "first_$1"
  labels: {part: "$1"}
- match: "a.b.*"
  name: "second"
- match: "a.*"
  name: "counters_only"
  match_metric_type: counter
"""
    )
    assert find_mapping(rules, "a.b.c", "counter")[1:] == ("first_b", {"part": "b"})  # type: ignore[index]
    assert find_mapping(rules, "a.b.d", "counter")[1] == "second"  # type: ignore[index]
    assert find_mapping(rules, "a.x", "counter")[1] == "counters_only"  # type: ignore[index]
    assert find_mapping(rules, "a.x", "gauge")[1] == "from_regex"  # type: ignore[index]
    assert find_mapping(rules, "a.b.c.d", "gauge")[1] == "from_regex"  # type: ignore[index]
    assert find_mapping(rules, "z", "gauge") is None
    assert escape_metric_name("1a.b-c") == "_1a_b_c"


@pytest.mark.parametrize(
    "bad",
    [
        'mappings: [{match: "nodots", name: "x"}]',
        'mappings: [{match: "a.b*", name: "x"}]',
        'mappings: [{match: "a.b", name: "bad-name"}]',
        'mappings: [{match: "a.b", name: "x", labels: {"1x": "y"}}]',
        'mappings: [{match: "a.b"}]',
    ],
)
def test_model_refuses_what_statsd_exporter_refuses(bad: str) -> None:
    with pytest.raises(MappingError):
        load_mapping(bad)


def test_model_refuses_a_second_label_set_for_one_name() -> None:
    exporter = Exporter(load_mapping("mappings: []"))
    exporter.replay("a:1|c|#x:1\na:1|c\na:2|ms")
    assert exporter.samples == {("a", (("x", "1"),)): 1.0} and len(exporter.conflicts) == 2


def test_model_histograms_use_the_mapping_buckets_and_seconds() -> None:
    exporter = Exporter(
        load_mapping(
            'mappings: [{match: "t.x", name: "t", observer_type: histogram, '
            "histogram_options: {buckets: [0.1, 1]}}]"
        )
    )
    exporter.replay("t.x:500|ms\nt.x:50|ms")
    assert exporter.samples[("t_bucket", (("le", "0.1"),))] == 1
    assert exporter.samples[("t_bucket", (("le", "1.0"),))] == 2
    assert exporter.samples[("t_bucket", (("le", "+Inf"),))] == 2
    assert exporter.samples[("t_sum", ())] == pytest.approx(0.55)
    assert not math.isnan(exporter.samples[("t_count", ())])
