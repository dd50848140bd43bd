"""The repeat state of each DAG (``alert_repeat``): when its last run-failure alert was raised.

Read and written by the relay inside its transaction (the decision itself is
:func:`windvane.alerting.noise.repeat_suppressed`). A successful run of the DAG
deletes its row, so its next failure alerts again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, delete, select, update

from windvane.alerting.outbox import utc
from windvane.alerting.tables import alert_repeat as t
from windvane.core.store._time import from_db
from windvane.core.store._upsert import upsert


@dataclass(frozen=True, slots=True)
class RepeatState:
    """A DAG's last raised run-failure alert, and how many repeats were suppressed since."""

    dag_id: str
    alerted_at: datetime
    suppressed: int


def get(conn: Connection, dag_id: str) -> RepeatState | None:
    """``dag_id``'s state, or None (no failure alerted since its last success)."""
    row = conn.execute(select(t).where(t.c.dag_id == dag_id)).mappings().first()
    if row is None:
        return None
    alerted = from_db(row["alerted_at"])
    assert alerted is not None
    return RepeatState(row["dag_id"], alerted, int(row["suppressed"]))


def alerted(conn: Connection, dag_id: str, *, now: datetime) -> None:
    """Record that a run-failure alert of ``dag_id`` was raised at ``now``."""
    values = {"dag_id": dag_id, "alerted_at": utc(now), "suppressed": 0}
    upsert(conn, t, values, key=["dag_id"], update=["alerted_at", "suppressed"])


def suppressed(conn: Connection, dag_id: str) -> None:
    """Count one more suppressed repeat of ``dag_id``."""
    conn.execute(update(t).where(t.c.dag_id == dag_id).values(suppressed=t.c.suppressed + 1))


def reset(conn: Connection, dag_id: str) -> None:
    """``dag_id`` had a successful run: its next failure alerts again."""
    conn.execute(delete(t).where(t.c.dag_id == dag_id))
