"""Silences: for a while, alerts about a DAG (or one of its tasks) are not sent.

The relay records a silenced alert in the outbox as ``silenced`` (with the
silence's id and reason in its note) instead of sending it: ``windvane alerts
list`` still shows it. :func:`silenced` is pure; the rest reads and writes
``alert_silence`` inside the caller's transaction. A silence ends at ``until``,
or earlier when someone expires it (:func:`end_silence`: ``until`` becomes now
and ``ended_by`` says who).
"""

from __future__ import annotations

import getpass
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, RowMapping, insert, select, update

from windvane.alerting.outbox import utc
from windvane.alerting.tables import alert_silence as t
from windvane.core.store._time import from_db
from windvane.errors import NotFoundError


@dataclass(frozen=True, slots=True)
class Silence:
    """Alerts about ``dag_id`` (only ``task_id``'s when set) are silenced until ``until``."""

    dag_id: str
    task_id: str | None
    until: datetime
    reason: str = ""
    created_by: str = ""
    id: int | None = None
    created_at: datetime | None = None
    ended_by: str | None = None

    def active(self, now: datetime) -> bool:
        """Whether the silence is in force at ``now``."""
        return now < self.until

    def describe(self) -> str:
        """``silence 3 (DAG 'etl', task 'load'): <reason>``, for outbox notes and logs."""
        what = f"DAG {self.dag_id!r}" + (f", task {self.task_id!r}" if self.task_id else "")
        return f"silence {self.id} ({what}, until {self.until.isoformat(timespec='seconds')}): {self.reason}"


def who() -> str:
    """``user@host``: who recorded or ended a silence."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (containers)
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def matching(
    silences: Iterable[Silence], dag_id: str, task_id: str | None, *, now: datetime
) -> Silence | None:
    """The first active silence an alert about ``dag_id``/``task_id`` at ``now`` matches, or None.

    A DAG-wide silence (no task) matches every alert of the DAG; a task's silence
    matches only that task's alerts (not the run's)."""
    for s in silences:
        if s.dag_id == dag_id and (s.task_id is None or s.task_id == task_id) and s.active(now):
            return s
    return None


def silenced(silences: Iterable[Silence], dag_id: str, task_id: str | None, *, now: datetime) -> bool:
    """Whether an alert about ``dag_id``/``task_id`` at ``now`` matches an active silence."""
    return matching(silences, dag_id, task_id, now=now) is not None


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
    return [_silence(r) for r in rows]


def list_silences(conn: Connection, *, now: datetime, expired_within: timedelta) -> list[Silence]:
    """Active silences and those that ended less than ``expired_within`` before ``now``, newest first."""
    since = utc(now - expired_within)
    rows = conn.execute(select(t).where(t.c.until > since).order_by(t.c.id.desc())).mappings()
    return [_silence(r) for r in rows]


def end_silence(conn: Connection, silence_id: int, *, now: datetime, ended_by: str) -> Silence:
    """Expire silence ``silence_id`` at ``now`` (a silence already over is left as it was); the
    silence as it is now. :class:`NotFoundError` naming the id when there is none."""
    row = conn.execute(select(t).where(t.c.id == silence_id)).mappings().first()
    if row is None:
        raise NotFoundError(f"no silence with id {silence_id} (see `windvane alerts silences`)")
    if _silence(row).active(now):
        conn.execute(update(t).where(t.c.id == silence_id).values(until=utc(now), ended_by=ended_by))
        row = conn.execute(select(t).where(t.c.id == silence_id)).mappings().one()
    return _silence(row)


def _silence(r: RowMapping) -> Silence:
    until = from_db(r["until"])
    assert until is not None
    return Silence(
        dag_id=r["dag_id"],
        task_id=r["task_id"],
        until=until,
        reason=r["reason"],
        created_by=r["created_by"],
        id=int(r["id"]),
        created_at=from_db(r["created_at"]),
        ended_by=r["ended_by"],
    )
