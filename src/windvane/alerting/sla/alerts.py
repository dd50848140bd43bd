"""The alerts an SLA miss (or its recovery) makes, one per channel: pure, no database.

Channels come from :class:`~windvane.alerting.routing.Routing` (``[alerting]
sla_miss_channels`` for both kinds, plus any per-DAG/tag additions). Email goes,
as in Airflow, to the task's ``email`` list (a run deadline: every address of the
DAG's tasks); with no address the email channel is left out. Dedupe keys follow
the relay's shape, ``kind|dag_id|task_id|run_id||channel``: one alert per miss
and channel, however often it is derived.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from windvane.alerting.alert import Alert, AlertKind
from windvane.alerting.routing import EMAIL, Routed, Routing
from windvane.alerting.sla.store import MissRow
from windvane.core.interfaces import SerializedDag


def routing_for(channels: tuple[str, ...]) -> Routing:
    """Routing sending misses and recoveries to ``channels``."""
    return Routing(by_kind=((AlertKind.SLA_MISS, channels), (AlertKind.RECOVERED, channels)))


def recipients_for(task_id: str, dag: SerializedDag | None) -> tuple[str, ...]:
    """The task's ``email`` list; for a run deadline (``task_id`` empty) every task's, in task order."""
    if dag is None:
        return ()
    if task_id:
        spec = dag.tasks.get(task_id)
        return spec.email if spec is not None else ()
    return tuple(dict.fromkeys(address for spec in dag.tasks.values() for address in spec.email))


def dedupe_key(kind: AlertKind, miss: MissRow, channel: str) -> str:
    """``kind|dag_id|task_id|run_id||channel`` (no try: one per miss)."""
    return "|".join((kind.value, miss.dag_id, miss.task_id, miss.run_id, "", channel))


def sla_alerts(
    kind: AlertKind,
    miss: MissRow,
    dag: SerializedDag | None,
    routing: Routing,
    available: Collection[str],
    *,
    occurred_at: datetime,
) -> list[Routed]:
    """The ``kind`` (``SLA_MISS`` or ``RECOVERED``) alerts of ``miss``, one per available channel;
    ``occurred_at`` is when it was detected (a miss) or when the task finally succeeded."""
    routed: list[Routed] = []
    for channel in routing.channels(kind, miss.dag_id, dag.tags if dag is not None else ()):
        if channel not in available:
            continue
        recipients: tuple[str, ...] = ()
        if channel == EMAIL:
            recipients = recipients_for(miss.task_id, dag)
            if not recipients:
                continue
        alert = Alert(
            dedupe_key=dedupe_key(kind, miss, channel),
            kind=kind,
            dag_id=miss.dag_id,
            run_id=miss.run_id,
            occurred_at=occurred_at,
            task_id=miss.task_id or None,
            state="success" if kind is AlertKind.RECOVERED else miss.state,
            recipients=recipients,
            due_at=miss.due_at,
        )
        routed.append(Routed(channel, alert))
    return routed
