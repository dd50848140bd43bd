"""``compose/statsd-mapping.yml``: a statsd_exporter mapping, generated from the catalogue.

For each metric, glob rules for the tagged form (the short name; its tags
become labels; a short name that embeds an enumerated label, such as
``dagrun.duration.{state}``, gets one rule per value, so no ``*`` can catch a
legacy name) and, where the metric has one, a regex rule for the legacy form
(label values in the name; enumerated ones only match their values).
Both produce the native endpoint's Prometheus name and labels, and timers
become histograms with the same buckets (statsd_exporter turns ``ms`` into
seconds; ``h`` values are left as they are). statsd_exporter runs glob rules
before regex rules.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass

from windvane.metrics.catalogue import CATALOGUE
from windvane.metrics.metric import Kind, Metric
from windvane.metrics.statsd_names import legacy_regex, tagged_name

DEFAULT_PREFIX = "windvane"
_MATCH_TYPE = {Kind.COUNTER: "counter", Kind.GAUGE: "gauge", Kind.HISTOGRAM: "observer"}


@dataclass(frozen=True, slots=True)
class Rule:
    """One statsd_exporter mapping: ``labels`` values are constants or ``$n`` references to captures."""

    metric: Metric
    match: str
    regex: bool
    labels: tuple[tuple[str, str], ...]


def rules(prefix: str = DEFAULT_PREFIX) -> list[Rule]:
    """Glob rules (tagged form) first, then regex rules (legacy form)."""
    globs, regexes = [], []
    for metric in CATALOGUE:
        embedded = metric.name_labels(metric.statsd)
        closed = [metric.values_of(key) or () for key in embedded]
        for values in itertools.product(*closed):
            labels = dict(zip(embedded, values, strict=True))
            globs.append(Rule(metric, tagged_name(metric, labels, prefix), False, tuple(labels.items())))
        pattern = legacy_regex(metric, prefix)
        if pattern is not None:
            in_name = metric.name_labels(metric.statsd_legacy)
            regexes.append(Rule(metric, pattern, True, tuple((k, f"${i}") for i, k in enumerate(in_name, 1))))
    return globs + regexes


def _q(value: object) -> str:
    return json.dumps(value)


def render_mapping(prefix: str = DEFAULT_PREFIX) -> str:
    lines = [
        "# statsd_exporter mapping for Windvane: StatsD names -> the Prometheus names and labels of",
        "# Windvane's own /metrics endpoint (docs/metrics.md).",
        "# Generated from src/windvane/metrics/catalogue.py; do not edit. Regenerate with:",
        "#     python -m windvane.metrics",
        f"# Expects statsd_prefix = {_q(prefix)}. With statsd_datadog_tags = true the tags become labels;",
        "# otherwise the legacy names below put the labels they carry back (run with",
        "# --statsd.mapping-config=statsd-mapping.yml).",
        "defaults:",
        "  match_type: glob",
        "  observer_type: histogram",
        "mappings:",
    ]
    for rule in rules(prefix):
        metric = rule.metric
        lines.append(f"- match: {_q(rule.match)}")
        if rule.regex:
            lines.append("  match_type: regex")
        lines += [
            f"  match_metric_type: {_MATCH_TYPE[metric.kind]}",
            f"  name: {_q(metric.name)}",
            f"  help: {_q(metric.help)}",
        ]
        if rule.labels:
            lines.append("  labels:")
            lines += [f"    {key}: {_q(ref)}" for key, ref in rule.labels]
        if metric.kind is Kind.HISTOGRAM:
            lines += [
                "  observer_type: histogram",
                "  histogram_options:",
                f"    buckets: [{', '.join(_bucket(b) for b in metric.buckets)}]",
            ]
    return "\n".join(lines) + "\n"


def _bucket(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(value)
