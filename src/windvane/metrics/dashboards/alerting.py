"""The Alerting dashboard: do alerts reach people, and how fast?"""

from __future__ import annotations

from collections.abc import Mapping

from windvane.metrics.dashboards.model import COUNT, PER_SECOND, SECONDS, Board, Dashboard, Target
from windvane.metrics.metric import Metric


def build(by_name: Mapping[str, Metric]) -> Dashboard:
    board = Board(
        "windvane-alerting",
        "Windvane / Alerting",
        "Are alerts delivered on every channel, is the outbox draining, and how long does delivery take?",
        "alerting.json",
        by_name,
    )
    board.row("Delivery")
    board.panel(
        "Alerts sent, failed and dead by channel",
        "Is each channel delivering? Alerts delivered, failed attempts, and alerts given up on (lost), per "
        "second and channel.",
        lambda q: [
            Target(q.rate("windvane_alerts_sent_total", ["channel"]), "sent {{channel}}"),
            Target(q.rate("windvane_alerts_failed_total", ["channel"]), "failed {{channel}}"),
            Target(q.rate("windvane_alerts_dead_total", ["channel"]), "dead {{channel}}"),
        ],
        unit=PER_SECOND,
        width=12,
    )
    board.panel(
        "Outbox depth",
        "Is the outbox draining? Alerts waiting to be sent; a steady rise means a channel is down.",
        lambda q: [Target(q.gauge("windvane_alerts_outbox_pending", agg="max"), "pending")],
        unit=COUNT,
        width=12,
    )
    board.panel(
        "Delivery latency p95",
        "How long after the fact does an alert reach its channel? p95 per channel.",
        lambda q: [
            Target(q.quantile(0.95, "windvane_alerts_delivery_latency_seconds", ["channel"]), "{{channel}}")
        ],
        unit=SECONDS,
        width=12,
    )
    board.row("Callbacks")
    board.panel(
        "Callback failures",
        "Are DAG and task callbacks raising? Failed callbacks per second, by kind.",
        lambda q: [Target(q.rate("windvane_callback_failures_total", ["kind"]), "{{kind}}")],
        unit=PER_SECOND,
        width=12,
    )
    board.panel(
        "Callback duration p95",
        "Are callbacks slow? p95 of a callback's run time, by kind.",
        lambda q: [Target(q.quantile(0.95, "windvane_callback_duration_seconds", ["kind"]), "{{kind}}")],
        unit=SECONDS,
        width=12,
    )
    return board.build()
