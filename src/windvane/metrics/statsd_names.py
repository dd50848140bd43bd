"""How a catalogue entry and its label values become a StatsD name, and how to undo it.

Two forms, as in Airflow:

* **tagged**: the short name (``ti.finish``, ``dagrun.duration.success``) with
  the remaining labels as DogStatsD tags (``|#dag_id:etl,task_id:load``);
* **legacy**: label values inside the name (``ti.finish.etl.load.success``),
  for StatsD servers without tags. Metrics without a legacy form are sent
  under the short name and lose their labels.

Values are made safe for the wire: in names only ``[A-Za-z0-9_-]`` survive
(``task_id`` also keeps ``.``, for task groups); tag values keep everything
(dots, spaces, non-ASCII: the line is UTF-8) but what ends a tag or a line
(``,``, ``|``, control characters) and a leading ``#``, which become ``_``
(an empty value is sent as ``_``: statsd_exporter drops empty tags).
:func:`tagged_name` and :func:`legacy_regex` give the statsd_exporter patterns
that match each form (see :mod:`.mapping`).
"""

from __future__ import annotations

import functools
import re
import string
from collections.abc import Mapping

from windvane.metrics.metric import Kind, Metric

_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_\-]")
_TASK_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-]")
_TAG_UNSAFE = re.compile(r"[,|\x00-\x1f\x7f]|^#")


def name_value(key: str, value: str) -> str:
    """A label value as it appears inside a legacy name."""
    return (_TASK_UNSAFE if key == "task_id" else _NAME_UNSAFE).sub("_", value) or "_"


def tag_value(value: str) -> str:
    # Most values (DAG and task ids) are safe as they are: two scans instead of a regex substitution.
    # Control characters are not printable, so a value passing this has nothing _TAG_UNSAFE replaces.
    if value and value[0] != "#" and value.isprintable() and "," not in value and "|" not in value:
        return value
    return _TAG_UNSAFE.sub("_", value) or "_"


def short_name(metric: Metric, labels: Mapping[str, str]) -> str:
    """The tagged-form name without prefix (enumerated labels it embeds filled in)."""
    if "{" not in metric.statsd:
        return metric.statsd
    return metric.statsd.format(**labels)


def render(metric: Metric, labels: Mapping[str, str], *, tags: bool) -> tuple[str, str]:
    """(name without prefix, DogStatsD tag suffix or "") for one emission."""
    if tags:
        rest = _tag_keys(metric.statsd, metric.labels)
        suffix = "|#" + ",".join([f"{k}:{tag_value(labels[k])}" for k in rest]) if rest else ""
        return short_name(metric, labels), suffix
    if metric.statsd_legacy is None:
        return short_name(metric, labels), ""
    safe = {k: name_value(k, v) for k, v in labels.items()}
    return metric.statsd_legacy.format(**safe), ""


@functools.cache  # per catalogue entry; asked on every new series of a StatsD sink
def _tag_keys(template: str, labels: tuple[str, ...]) -> tuple[str, ...]:
    """The labels that travel as tags: those the short name does not embed."""
    in_name = {f for _, f, _, _ in string.Formatter().parse(template) if f}
    return tuple(k for k in labels if k not in in_name)


def legacy_lost_labels(metric: Metric) -> tuple[str, ...]:
    """The labels a metric's legacy (dotted) form cannot carry: those neither in its legacy
    name nor embedded in its short name (with no legacy name, every label not embedded)."""
    kept = set(metric.name_labels(metric.statsd_legacy)) | set(metric.name_labels(metric.statsd))
    return tuple(key for key in metric.labels if key not in kept)


def legacy_mangled_labels(metric: Metric) -> tuple[str, ...]:
    """The labels whose values the legacy form puts in the name (made name-safe, see
    :func:`name_value`); enumerated ones are name-safe already."""
    return tuple(k for k in metric.name_labels(metric.statsd_legacy) if metric.values_of(k) is None)


def wire_type(metric: Metric) -> str:
    """StatsD type: ``c``, ``g``, ``ms`` (timers, sent in milliseconds) or ``h`` (count histograms)."""
    if metric.kind is Kind.COUNTER:
        return "c"
    if metric.kind is Kind.GAUGE:
        return "g"
    return "ms" if metric.is_timer else "h"


def wire_value(metric: Metric, value: float) -> str:
    """The value as sent: timers in milliseconds, everything else as is."""
    return wire_number(value * 1000.0 if metric.is_timer else value)


def wire_number(value: float) -> str:
    """A number as sent (milliseconds already for timers): integers without a fraction."""
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.6f}".rstrip("0")


def tagged_name(metric: Metric, labels: Mapping[str, str], prefix: str) -> str:
    """The full tagged-form name (``labels``: values of the enumerated labels it embeds)."""
    name = short_name(metric, labels)
    return f"{prefix}.{name}" if prefix else name


def legacy_regex(metric: Metric, prefix: str) -> str | None:
    """statsd_exporter regex for the legacy form (one group per label, in template order)."""
    if metric.statsd_legacy is None:
        return None
    head = re.escape(prefix + ".") if prefix else ""
    out = []
    for piece in re.split(r"(\{[a-z_]+\})", metric.statsd_legacy):
        closed = metric.values_of(piece[1:-1]) if piece.startswith("{") else None
        if closed:
            out.append("(" + "|".join(map(re.escape, closed)) + ")")
        elif piece.startswith("{"):
            out.append(r"(.+)" if piece == "{task_id}" else r"([^.]+)")
        else:
            out.append(re.escape(piece))
    return "^" + head + "".join(out) + "$"
