"""Silences: for a while, alerts about a DAG (or one of its tasks) are dropped.

The relay drops a silenced alert before it reaches the outbox (it is not
recorded there; the journal keeps the fact). :func:`silenced` is pure.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, insert, select

from windvane.alerting.outbox import utc
from windvane.alerting.tables import alert_silence as t


@dataclass(frozen=True, slots=True)
class Silence:
    """Alerts about ``dag_id`` (only ``task_id``'s when set) are dropped until ``until``."""

    dag_id: str
    task_id: str | None
    until: datetime
    reason: str = ""
    created_by: str = ""
    id: int | None = None


def silenced(silences: Iterable[Silence], dag_id: str, task_id: str | None, *, now: datetime) -> bool:
    """Whether an alert about ``dag_id``/``task_id`` at ``now`` matches an active silence.

    A DAG-wide silence (no task) matches every alert of the DAG; a task's silence
    matches only that task's alerts (not the run's)."""
    return any(
        s.dag_id == dag_id and (s.task_id is None or s.task_id == task_id) and now < s.until for s in silences
    )


def add_silence(
    conn: Connection,
    dag_id: str,
    *,
    until: datetime,
    reason: str,
    created_by: str,
    now: datetime,
    task_id: str | None = None,
) -> int:
    """Record a silence; its id."""
    result = conn.execute(
        insert(t).values(
            dag_id=dag_id,
            task_id=task_id,
            until=utc(until),
            reason=reason,
            created_by=created_by,
            created_at=utc(now),
        )
    )
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def active_silences(conn: Connection, *, now: datetime) -> list[Silence]:
    """Silences still in force at ``now``."""
    rows = conn.execute(select(t).where(t.c.until > utc(now)).order_by(t.c.id)).mappings()
    return [
        Silence(
            dag_id=r["dag_id"],
            task_id=r["task_id"],
            until=r["until"].replace(tzinfo=UTC) if r["until"].tzinfo is None else r["until"],
            reason=r["reason"],
            created_by=r["created_by"],
            id=int(r["id"]),
        )
        for r in rows
    ]
