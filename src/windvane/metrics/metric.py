"""What a metric is: one :class:`Metric` per series family, described once as data.

A :class:`Metric` carries everything every backend and document needs: the
Prometheus name (``windvane_`` prefix, base units, ``_total`` on counters), its
kind, unit, label keys, help text and the Airflow-compatible StatsD names.

Labels are bounded by construction: only the keys in :data:`LABEL_KEYS` exist,
some of them with a closed set of values (:data:`ENUM_VALUES`); ids that grow
without bound (run ids, try numbers, job ids, exception text) are refused when
a metric is defined.
"""

from __future__ import annotations

import functools
import re
import string
from collections.abc import Collection
from dataclasses import dataclass, field
from enum import StrEnum
from typing import cast


class Kind(StrEnum):
    COUNTER = "counter"
    GAUGE = "gauge"
    HISTOGRAM = "histogram"


class Owner(StrEnum):
    """The service that emits a metric: only processes running that service export it."""

    SCHEDULER = "scheduler"
    #: The executor's slots; it lives in the scheduler's process (workers report tries to it).
    EXECUTOR = "executor"
    DAG_PROCESSOR = "dag_processor"
    #: ``windvane celery worker``: the tries one Celery worker holds (its own ``/metrics``).
    CELERY_WORKER = "celery_worker"
    #: Services plug-ins run beside the scheduler loop: alert dispatch, SLA checks, DAG callbacks.
    ALERTING = "alerting"
    #: Every process: build info, the metrics' own errors.
    EVERY = "every"


#: Prometheus name prefix -> owner: the default of :attr:`Metric.owner` (first match wins).
OWNER_PREFIXES: tuple[tuple[str, Owner], ...] = (
    ("windvane_scheduler_", Owner.SCHEDULER),
    ("windvane_dagrun_", Owner.SCHEDULER),
    ("windvane_ti_", Owner.SCHEDULER),
    ("windvane_task_", Owner.SCHEDULER),
    ("windvane_pool_", Owner.SCHEDULER),
    ("windvane_sensor_", Owner.SCHEDULER),
    ("windvane_executor_", Owner.EXECUTOR),
    ("windvane_celery_worker_", Owner.CELERY_WORKER),
    ("windvane_dag_processing_", Owner.DAG_PROCESSOR),
    ("windvane_dag_processor_", Owner.DAG_PROCESSOR),
    ("windvane_dagbag_", Owner.DAG_PROCESSOR),
    ("windvane_alert", Owner.ALERTING),
    ("windvane_sla_", Owner.ALERTING),
    ("windvane_callback", Owner.ALERTING),
    ("windvane_dag_callback", Owner.ALERTING),
    ("windvane_build_info", Owner.EVERY),
    ("windvane_metrics_", Owner.EVERY),
)

#: Kind of process (the ``service`` label of ``windvane_build_info``) -> the services it runs.
#: ``windvane standalone`` and ``windvane scheduler`` run a ``scheduler`` process and fork a
#: ``dag-processor`` one (the scheduler never imports user code); ``windvane dags backfill`` is a
#: ``backfill`` process (a scheduler limited to its runs, without plug-in services).
PROCESS_SERVICES: dict[str, frozenset[Owner]] = {
    "scheduler": frozenset({Owner.SCHEDULER, Owner.EXECUTOR, Owner.ALERTING}),
    "dag-processor": frozenset({Owner.DAG_PROCESSOR}),
    "backfill": frozenset({Owner.SCHEDULER, Owner.EXECUTOR}),
    #: ``windvane alerter``: the alerting services without a scheduler.
    "alerter": frozenset({Owner.ALERTING}),
    #: ``windvane celery worker``: serves its own ``/metrics`` on ``[celery] prometheus_port``.
    "celery-worker": frozenset({Owner.CELERY_WORKER}),
}


def default_owner(name: str) -> Owner | None:
    """The owner a metric named ``name`` gets when its definition names none."""
    return next((owner for prefix, owner in OWNER_PREFIXES if name.startswith(prefix)), None)


def services_of(process: str) -> frozenset[Owner]:
    """The services a process of kind ``process`` runs (an unknown kind: all of them)."""
    return PROCESS_SERVICES.get(process, frozenset(Owner))


def exported_by(metric: Metric, services: Collection[Owner]) -> bool:
    """Whether a process running ``services`` exports ``metric``."""
    return metric.owner is Owner.EVERY or metric.owner in services


#: The default of :attr:`Metric.owner`: resolved from the name by :func:`default_owner`.
_FROM_NAME = cast(Owner, None)

#: Durations, 1 ms to 4 h (12 buckets: +Inf, _sum and _count make 15 series per label set).
DURATION_BUCKETS: tuple[float, ...] = (0.001, 0.01, 0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600, 14400)
#: Short internal durations (loop, critical section, DB time per loop), 1 ms to 1 min.
LOOP_BUCKETS: tuple[float, ...] = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 60)
#: Counts per scheduler pass (queries, queued task instances).
COUNT_BUCKETS: tuple[float, ...] = (0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)

#: Every label key a metric may have, with what bounds its values.
LABEL_KEYS: dict[str, str] = {
    "dag_id": "one per DAG",
    "task_id": "one per task of a DAG",
    "pool": "one per pool",
    "executor": "one per configured executor",
    "queue": "one per Celery queue tries are sent to (the operators' queue values)",
    "file": "one per DAG file (path relative to the DAGs folder)",
    "state": "a closed set of states (listed per metric)",
    "run_type": "scheduled, manual or backfill",
    "channel": "one per alert channel",
    "version": "the running Windvane version (one value per process)",
    "service": "scheduler, dag-processor, ... (one value per process)",
    "backend": "statsd, prometheus or sink",
    "reason": "a closed set of failure reasons",
    "kind": "a closed set of callback kinds",
}

#: Keys refused outright: unbounded or sensitive.
FORBIDDEN_LABELS = frozenset(
    {"run_id", "try_number", "job_id", "map_index", "error", "exception", "hostname", "pid"}
)

RUN_TYPES = ("scheduled", "manual", "backfill")
ERROR_BACKENDS = ("statsd", "prometheus", "sink")
ERROR_REASONS = (
    "unresolvable_host",
    "send_failed",
    "port_in_use",
    "serve_failed",
    "emit_failed",
    "bad_usage",
)

#: What a callback was called for: DAG run success/failure, a task's failure/retry (in the try's
#: process or run from the journal), a task's execute/success/skipped (in the try's process), an SLA miss.
CALLBACK_KINDS = (
    "dag_success",
    "dag_failure",
    "task_failure",
    "task_retry",
    "sla_miss",
    "task_execute",
    "task_success",
    "task_skipped",
)

#: Closed value sets of enumerated label keys (a metric may narrow ``state``).
ENUM_VALUES: dict[str, tuple[str, ...]] = {
    "run_type": RUN_TYPES,
    "backend": ERROR_BACKENDS,
    "reason": ERROR_REASONS,
    "kind": CALLBACK_KINDS,
}

_NAME = re.compile(r"^windvane_[a-z0-9_]+$")


@functools.cache  # a few dozen templates; parsed on every new series of a StatsD sink otherwise
def _template_fields(template: str) -> tuple[str, ...]:
    return tuple(f for _, f, _, _ in string.Formatter().parse(template) if f)


_STATSD = re.compile(r"^[a-z0-9_.{}]+$")


@dataclass(frozen=True, slots=True)
class Metric:
    """One metric family.

    ``statsd`` is the short StatsD name (sent with DogStatsD tags when tags are
    on); it may embed enumerated labels, e.g. ``dagrun.duration.{state}``.
    ``statsd_legacy`` is Airflow's dotted form with label values in the name,
    e.g. ``dagrun.duration.{state}.{dag_id}``, sent when tags are off.
    ``states`` closes the values of a ``state`` label. Histograms are observed
    in seconds (or in counts, for ``unit="1"``-style count histograms) and go
    to StatsD as ``ms`` timers (seconds) or ``h`` histograms (counts).
    ``owner`` is the service that emits it (default: from the name's prefix,
    :data:`OWNER_PREFIXES`); a process's Prometheus endpoint exports only the
    metrics of the services it runs (:data:`PROCESS_SERVICES`).
    """

    name: str
    kind: Kind
    unit: str
    help: str
    statsd: str
    labels: tuple[str, ...] = ()
    statsd_legacy: str | None = None
    buckets: tuple[float, ...] = ()
    states: tuple[str, ...] = ()
    owner: Owner = _FROM_NAME
    #: The closed set of its ``reason`` label's values, when not the metrics' own failure reasons
    #: (:data:`ERROR_REASONS`).
    reasons: tuple[str, ...] = ()
    label_set: frozenset[str] = field(init=False, repr=False, compare=False)
    #: (label, allowed values) of its enumerated labels.
    closed: tuple[tuple[str, tuple[str, ...]], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if cast(object, self.owner) is None:
            object.__setattr__(self, "owner", default_owner(self.name))
        object.__setattr__(self, "label_set", frozenset(self.labels))
        closed = tuple((k, v) for k in self.labels if (v := self.values_of(k)) is not None)
        object.__setattr__(self, "closed", closed)
        self._check()

    @property
    def is_timer(self) -> bool:
        """A histogram of seconds: a ``ms`` timer on the StatsD wire."""
        return self.kind is Kind.HISTOGRAM and self.unit == "seconds"

    def values_of(self, key: str) -> tuple[str, ...] | None:
        """The closed set of values of label ``key``; None when it is open (dag_id, pool...)."""
        if key == "state":
            return self.states
        if key == "reason" and self.reasons:
            return self.reasons
        return ENUM_VALUES.get(key)

    def name_labels(self, template: str | None) -> tuple[str, ...]:
        """The labels a StatsD template puts into the name, in order."""
        return () if template is None else _template_fields(template)

    def _check(self) -> None:
        problems = []
        if not _NAME.match(self.name):
            problems.append("name must be windvane_[a-z0-9_]+")
        if self.kind is Kind.COUNTER and not self.name.endswith("_total"):
            problems.append("a counter's name ends with _total")
        if self.kind is not Kind.COUNTER and self.name.endswith("_total"):
            problems.append("only counters end with _total")
        if self.unit == "seconds" and not self.name.endswith(("_seconds", "_seconds_total")):
            problems.append("a metric in seconds ends with _seconds")
        if self.kind is Kind.HISTOGRAM and not self.buckets:
            problems.append("a histogram needs buckets")
        if len(set(self.labels)) != len(self.labels):
            problems.append("duplicate label")
        for key in self.labels:
            if key in FORBIDDEN_LABELS or key not in LABEL_KEYS:
                problems.append(f"label {key!r} is not allowed")
        if ("state" in self.labels) != bool(self.states):
            problems.append("a state label needs its closed set of states (and only then)")
        if "task_id" in self.labels and "dag_id" not in self.labels:
            problems.append("task_id goes with dag_id")
        for template in (self.statsd, self.statsd_legacy):
            if template is None:
                continue
            if not _STATSD.match(template):
                problems.append(f"bad StatsD template {template!r}")
            unknown = set(self.name_labels(template)) - self.label_set
            if unknown:
                problems.append(f"StatsD template {template!r} names unknown labels {sorted(unknown)}")
        for key in self.name_labels(self.statsd):
            if self.values_of(key) is None:
                problems.append(f"the short StatsD name may only embed enumerated labels, not {key!r}")
        if not isinstance(cast(object, self.owner), Owner):
            problems.append("no owner: pass owner=Owner.<service that emits it>")
        if self.statsd_legacy is not None and not self.labels:
            problems.append("a legacy StatsD name needs labels")
        if problems:
            raise ValueError(f"metric {self.name}: " + "; ".join(problems))
