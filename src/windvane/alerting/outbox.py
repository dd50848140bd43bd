"""The outbox: alerts waiting to be delivered, one row per alert and channel.

Every function takes a :class:`~sqlalchemy.Connection` inside the caller's
transaction. A row is ``pending`` until a dispatcher delivers it (``sent``) or
gives up (``dead``). A dispatcher *claims* due rows for a while
(``claimed_by``/``claimed_until``) before sending; a claim that ran out (its
dispatcher died mid-send) is claimable again. On PostgreSQL the claim reads
with ``FOR UPDATE SKIP LOCKED`` so concurrent dispatchers take disjoint rows;
on SQLite the caller's ``BEGIN IMMEDIATE`` transaction makes claims one at a time.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from windvane.alerting.alert import Alert
from windvane.alerting.payload import from_payload, to_payload
from windvane.alerting.tables import DEAD, LAST_ERROR_CHARS, PENDING, SENT, alert_outbox
from windvane.core.store._time import from_db, to_db
from windvane.errors import StoreError

t = alert_outbox


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """One outbox row as a dispatcher sees it (``attempts`` includes the current claim)."""

    id: int
    dedupe_key: str
    channel: str
    alert: Alert
    state: str
    attempts: int
    next_attempt_at: datetime
    created_at: datetime
    sent_at: datetime | None
    last_error: str | None
    claimed_by: str | None
    claimed_until: datetime | None


def utc(value: datetime) -> datetime:
    """``value`` as aware UTC for the outbox's columns; naive values are refused."""
    return to_db(value, "an alert outbox time")


def bounded_error(message: str) -> str:
    """``message`` cut to :data:`LAST_ERROR_CHARS`, keeping its start (the channel's own summary)."""
    return message if len(message) <= LAST_ERROR_CHARS else message[: LAST_ERROR_CHARS - 1] + "…"


def add(conn: Connection, alert: Alert, channel: str, *, now: datetime) -> bool:
    """Insert a pending row for ``alert`` on ``channel``, due at once; False (nothing inserted) when a
    row with its dedupe key exists already (``INSERT ... ON CONFLICT DO NOTHING``)."""
    values: dict[str, Any] = {
        "dedupe_key": alert.dedupe_key,
        "channel": channel,
        "kind": alert.kind.value,
        "payload": to_payload(alert),
        "state": PENDING,
        "attempts": 0,
        "next_attempt_at": utc(now),
        "created_at": utc(now),
    }
    dialect = conn.dialect.name
    if dialect == "postgresql":
        stmt: Any = postgresql.insert(t).values(values).on_conflict_do_nothing(index_elements=["dedupe_key"])
    elif dialect == "sqlite":
        stmt = sqlite.insert(t).values(values).on_conflict_do_nothing(index_elements=["dedupe_key"])
    else:
        raise StoreError(f"unsupported database dialect {dialect!r} (alert outbox)")
    # RETURNING rather than rowcount: psycopg reports no reliable rowcount for a skipped conflict
    return conn.execute(stmt.returning(t.c.id)).scalar_one_or_none() is not None


def claim_due(
    conn: Connection,
    *,
    owner: str,
    now: datetime,
    until: datetime,
    channels: Collection[str],
    limit: int,
) -> list[OutboxRow]:
    """Claim up to ``limit`` pending rows of ``channels`` that are due and not claimed (or whose
    claim ran out) for ``owner`` until ``until``, oldest due first; each claim counts one attempt."""
    now = utc(now)
    due = (
        select(t.c.id)
        .where(
            t.c.state == PENDING,
            t.c.next_attempt_at <= now,
            t.c.channel.in_(list(channels)),
            or_(t.c.claimed_until.is_(None), t.c.claimed_until <= now),
        )
        .order_by(t.c.next_attempt_at, t.c.id)
        .limit(limit)
    )
    if conn.dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    ids = list(conn.execute(due).scalars())
    if not ids:
        return []
    conn.execute(
        update(t)
        .where(t.c.id.in_(ids))
        .values(claimed_by=owner, claimed_until=utc(until), attempts=t.c.attempts + 1)
    )
    rows = conn.execute(select(t).where(t.c.id.in_(ids)).order_by(t.c.next_attempt_at, t.c.id)).mappings()
    return [_row(r) for r in rows]


def mark_sent(conn: Connection, row_id: int, *, now: datetime) -> bool:
    """Record delivery of a pending row (whoever holds its claim: it *was* delivered); False if it
    was no longer pending."""
    result = conn.execute(
        update(t)
        .where(t.c.id == row_id, t.c.state == PENDING)
        .values(state=SENT, sent_at=utc(now), claimed_by=None, claimed_until=None)
    )
    return bool(result.rowcount)


def mark_retry(conn: Connection, row_id: int, *, owner: str, next_attempt_at: datetime, error: str) -> bool:
    """Release ``owner``'s claim on a row and make it due again at ``next_attempt_at``."""
    result = conn.execute(
        update(t)
        .where(t.c.id == row_id, t.c.state == PENDING, t.c.claimed_by == owner)
        .values(
            next_attempt_at=utc(next_attempt_at),
            last_error=bounded_error(error),
            claimed_by=None,
            claimed_until=None,
        )
    )
    return bool(result.rowcount)


def mark_dead(conn: Connection, row_id: int, *, owner: str, error: str) -> bool:
    """Give up on a row ``owner`` holds: it is never tried again."""
    result = conn.execute(
        update(t)
        .where(t.c.id == row_id, t.c.state == PENDING, t.c.claimed_by == owner)
        .values(state=DEAD, last_error=bounded_error(error), claimed_by=None, claimed_until=None)
    )
    return bool(result.rowcount)


def counts(conn: Connection) -> dict[str, int]:
    """Rows by state (every state present, zero when none)."""
    found = {state: 0 for state in (PENDING, SENT, DEAD)}
    for state, n in conn.execute(select(t.c.state, func.count()).group_by(t.c.state)):
        found[state] = int(n)
    return found


def prune(conn: Connection, *, older_than: datetime) -> int:
    """Delete ``sent`` and ``dead`` rows created before ``older_than``; how many went. Pending rows
    are never pruned; a pruned alert re-derived later would be sent again, so keep more than the
    journal's retention."""
    stmt = delete(t).where(t.c.state.in_((SENT, DEAD)), t.c.created_at < utc(older_than))
    return int(conn.execute(stmt).rowcount)


def pending_count(conn: Connection) -> int:
    """How many rows are pending (the outbox's depth; an indexed count)."""
    return int(conn.execute(select(func.count()).select_from(t).where(t.c.state == PENDING)).scalar_one())


def list_rows(conn: Connection, *, state: str | None = None, limit: int = 100) -> list[OutboxRow]:
    """The newest rows (of ``state`` if given), newest first: for ``windvane alerts list``."""
    stmt = select(t).order_by(t.c.id.desc()).limit(limit)
    if state is not None:
        stmt = stmt.where(t.c.state == state)
    return [_row(r) for r in conn.execute(stmt).mappings()]


def _row(r: RowMapping) -> OutboxRow:
    created = from_db(r["created_at"])
    due = from_db(r["next_attempt_at"])
    assert created is not None and due is not None
    return OutboxRow(
        id=int(r["id"]),
        dedupe_key=r["dedupe_key"],
        channel=r["channel"],
        alert=from_payload(r["payload"]),
        state=r["state"],
        attempts=int(r["attempts"]),
        next_attempt_at=due,
        created_at=created,
        sent_at=from_db(r["sent_at"]),
        last_error=r["last_error"],
        claimed_by=r["claimed_by"],
        claimed_until=from_db(r["claimed_until"]),
    )
