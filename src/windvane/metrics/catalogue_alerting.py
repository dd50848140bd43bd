"""The alerting part of the catalogue: SLA misses, alert delivery and callbacks.

Kept apart from :mod:`windvane.metrics.catalogue` only for size; that module
imports every name here, so :data:`~windvane.metrics.catalogue.CATALOGUE` holds them.
"""

from __future__ import annotations

from windvane.metrics.metric import DURATION_BUCKETS, Kind, Metric

C, G, H = Kind.COUNTER, Kind.GAUGE, Kind.HISTOGRAM
DAG_TASK = ("dag_id", "task_id")

# -- SLA misses, alert delivery, callbacks ---------------------------------------------------------
SLA_MISSED = Metric(
    "windvane_sla_missed_total",
    C,
    "task instances",
    "Task instances that missed their SLA.",
    "sla_missed",
    DAG_TASK,
)
ALERTS_SENT = Metric(
    "windvane_alerts_sent_total",
    C,
    "alerts",
    "Alerts delivered, by channel.",
    "alerts.sent",
    ("channel",),
    "alerts.sent.{channel}",
)
ALERTS_FAILED = Metric(
    "windvane_alerts_failed_total",
    C,
    "alerts",
    "Alerts that could not be delivered, by channel.",
    "alerts.failed",
    ("channel",),
    "alerts.failed.{channel}",
)
ALERTS_DEAD = Metric(
    "windvane_alerts_dead_total",
    C,
    "alerts",
    "Alerts given up on (a permanent failure, or still failing at max age), by channel; each is logged "
    "as ALERT LOST.",
    "alerts.dead",
    ("channel",),
    "alerts.dead.{channel}",
)
ALERTS_HELD_BACK = Metric(
    "windvane_alerts_held_back_total",
    C,
    "alerts",
    "Alerts recorded but not sent on their own, by channel and outbox state: silenced (a silence), "
    "suppressed (a repeat of a still-failing DAG) or superseded (replaced by their run's failure alert).",
    "alerts.held_back",
    ("channel", "state"),
    "alerts.held_back.{channel}.{state}",
    states=("silenced", "suppressed", "superseded"),
)
ALERTS_OUTBOX_PENDING = Metric(
    "windvane_alerts_outbox_pending",
    G,
    "alerts",
    "Alerts waiting in the outbox after the dispatcher's latest tick; a steady rise means a channel is down.",
    "alerts.outbox_pending",
)
ALERTS_DELIVERY_LATENCY = Metric(
    "windvane_alerts_delivery_latency_seconds",
    H,
    "seconds",
    "From an alert's fact (its journal row's recorded_at) to the channel accepting it, retries included.",
    "alerts.delivery_latency",
    ("channel",),
    "alerts.delivery_latency.{channel}",
    buckets=DURATION_BUCKETS,
)
CALLBACK_FAILURES = Metric(
    "windvane_callback_failures_total",
    C,
    "callbacks",
    "Callbacks that raised, timed out or whose DAG could not be loaded, by kind: task callbacks run in "
    "the try's own process (reported with its outcome) and those run from the journal (DAG "
    "success/failure, a killed try's failure/retry, SLA miss); each is logged with its traceback.",
    "callbacks.failures",
    ("kind",),
    "callbacks.failures.{kind}",
)
CALLBACK_DURATION = Metric(
    "windvane_callback_duration_seconds",
    H,
    "seconds",
    "Wall time of one task callback in the try's own process, or of one call from the journal (fork, "
    "DAG file import, each callback of the list).",
    "callbacks.duration",
    ("kind",),
    "callbacks.duration.{kind}",
    buckets=DURATION_BUCKETS,
)

#: This module's metrics in the order above (the catalogue's order: docs and mapping follow it).
ALERTING: tuple[Metric, ...] = tuple(v for v in dict(globals()).values() if isinstance(v, Metric))
