"""The outbox: alerts waiting to be delivered, one row per alert and channel.

Every function takes a :class:`~sqlalchemy.Connection` inside the caller's
transaction. A row is ``pending`` until a dispatcher delivers it (``sent``) or
gives up (``dead``). A dispatcher *claims* due rows for a while
(``claimed_by``/``claimed_until``) before sending; a claim that ran out (its
dispatcher died mid-send) is claimable again. On PostgreSQL the claim reads
with ``FOR UPDATE SKIP LOCKED`` so concurrent dispatchers take disjoint rows;
on SQLite the caller's ``BEGIN IMMEDIATE`` transaction makes claims one at a time.

Grouping (:mod:`windvane.alerting.noise`): a claimed row with a ``group_key``
also claims its pending siblings (even those not due yet: they arrived within
the group's wait); the dispatcher gets the oldest as the *leader*, its alert
standing for the whole group, and the others point at it (``merged_into``).
:func:`mark_sent`, :func:`mark_retry` and :func:`mark_dead` act on a leader and
its members in one statement each, so a group is delivered exactly like one
alert: all of it sent in one transaction, or none. A ``run_failed`` leader lists
the task alerts it superseded. Rows recorded as ``silenced``, ``suppressed`` or
``superseded`` (:func:`insert` with that state, :func:`supersede`) are never sent.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, RowMapping, delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from windvane.alerting.alert import Alert, AlertKind
from windvane.alerting.noise import LISTED, compose
from windvane.alerting.payload import from_payload, to_payload
from windvane.alerting.tables import (
    DEAD,
    LAST_ERROR_CHARS,
    NOTE_CHARS,
    PENDING,
    SENT,
    SILENCED,
    STATES,
    SUPERSEDED,
    SUPPRESSED,
    alert_outbox,
)
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
    group_key: str | None = None
    merged_into: int | None = None
    note: str | None = None


def utc(value: datetime) -> datetime:
    """``value`` as aware UTC for the outbox's columns; naive values are refused."""
    return to_db(value, "an alert outbox time")


def bounded_error(message: str) -> str:
    """``message`` cut to :data:`LAST_ERROR_CHARS`, keeping its start (the channel's own summary)."""
    return message if len(message) <= LAST_ERROR_CHARS else message[: LAST_ERROR_CHARS - 1] + "…"


def add(conn: Connection, alert: Alert, channel: str, *, now: datetime) -> bool:
    """Insert a pending row for ``alert`` on ``channel``, due at once; False (nothing inserted) when a
    row with its dedupe key exists already (``INSERT ... ON CONFLICT DO NOTHING``)."""
    return insert(conn, alert, channel, now=now) is not None


def insert(
    conn: Connection,
    alert: Alert,
    channel: str,
    *,
    now: datetime,
    state: str = PENDING,
    due: datetime | None = None,
    group_key: str | None = None,
    merged_into: int | None = None,
    note: str | None = None,
) -> int | None:
    """Insert a row for ``alert`` on ``channel`` in ``state``, due at ``due`` (default ``now``); its
    id, or None (nothing inserted) when a row with its dedupe key exists already."""
    if state not in STATES:
        raise StoreError(f"unknown alert outbox state {state!r} (known: {', '.join(STATES)})")
    values: dict[str, Any] = {
        "dedupe_key": alert.dedupe_key,
        "channel": channel,
        "kind": alert.kind.value,
        "payload": to_payload(alert),
        "state": state,
        "attempts": 0,
        "next_attempt_at": utc(due or now),
        "created_at": utc(now),
        "dag_id": alert.dag_id,
        "run_id": alert.run_id,
        "group_key": group_key,
        "merged_into": merged_into,
        "note": None if note is None else note[:NOTE_CHARS],
    }
    dialect = conn.dialect.name
    if dialect == "postgresql":
        stmt: Any = postgresql.insert(t).values(values).on_conflict_do_nothing(index_elements=["dedupe_key"])
    elif dialect == "sqlite":
        stmt = sqlite.insert(t).values(values).on_conflict_do_nothing(index_elements=["dedupe_key"])
    else:
        raise StoreError(f"unsupported database dialect {dialect!r} (alert outbox)")
    # RETURNING rather than rowcount: psycopg reports no reliable rowcount for a skipped conflict
    found = conn.execute(stmt.returning(t.c.id)).scalar_one_or_none()
    return None if found is None else int(found)


def _claimable(now: datetime) -> ColumnElement[bool]:
    return or_(t.c.claimed_until.is_(None), t.c.claimed_until <= now)


def run_alert_id(conn: Connection, dag_id: str, run_id: str, channel: str) -> int | None:
    """The id of the run-failure row of run ``run_id`` of ``dag_id`` on ``channel``, if any."""
    found = conn.execute(
        select(t.c.id)
        .where(
            t.c.dag_id == dag_id,
            t.c.run_id == run_id,
            t.c.channel == channel,
            t.c.kind == AlertKind.RUN_FAILED.value,
        )
        .order_by(t.c.id)
        .limit(1)
    ).scalar_one_or_none()
    return None if found is None else int(found)


def supersede(
    conn: Connection,
    *,
    dag_id: str,
    run_id: str,
    channel: str,
    kinds: Collection[AlertKind],
    into: int,
    now: datetime,
    note: str,
) -> int:
    """Mark the pending, unclaimed rows of ``kinds`` of that run on ``channel`` ``superseded`` by row
    ``into``; how many. Rows being sent right now (claimed) are left alone."""
    result = conn.execute(
        update(t)
        .where(
            t.c.dag_id == dag_id,
            t.c.run_id == run_id,
            t.c.channel == channel,
            t.c.kind.in_([k.value for k in kinds]),
            t.c.state == PENDING,
            _claimable(utc(now)),
        )
        .values(
            state=SUPERSEDED, merged_into=into, note=note[:NOTE_CHARS], claimed_by=None, claimed_until=None
        )
    )
    return int(result.rowcount)


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
    claim ran out) for ``owner`` until ``until``, oldest due first, each with its group (see the
    module doc); each claimed row counts one attempt. Returns the leaders, each ``alert`` composed
    for its whole group."""
    now = utc(now)
    locking = conn.dialect.name == "postgresql"
    due = (
        select(t.c.id)
        .where(
            t.c.state == PENDING,
            t.c.next_attempt_at <= now,
            t.c.channel.in_(list(channels)),
            _claimable(now),
        )
        .order_by(t.c.next_attempt_at, t.c.id)
        .limit(limit)
    )
    if locking:
        due = due.with_for_update(skip_locked=True)
    ids = list(conn.execute(due).scalars())
    if not ids:
        return []
    keys = {k for k in conn.execute(select(t.c.group_key).where(t.c.id.in_(ids))).scalars() if k is not None}
    if keys:
        siblings = select(t.c.id).where(
            t.c.group_key.in_(sorted(keys)), t.c.state == PENDING, _claimable(now), t.c.id.not_in(ids)
        )
        if locking:
            siblings = siblings.with_for_update(skip_locked=True)
        ids += list(conn.execute(siblings).scalars())
    conn.execute(
        update(t)
        .where(t.c.id.in_(ids))
        .values(claimed_by=owner, claimed_until=utc(until), attempts=t.c.attempts + 1, merged_into=None)
    )
    claimed = [_row(r) for r in conn.execute(select(t).where(t.c.id.in_(ids)).order_by(t.c.id)).mappings()]
    groups: dict[str, list[OutboxRow]] = {}
    leaders: list[OutboxRow] = []
    for row in claimed:
        if row.group_key is None:
            leaders.append(row)
        else:
            groups.setdefault(row.group_key, []).append(row)
    for members in groups.values():
        head = members[0]
        if len(members) > 1:
            conn.execute(update(t).where(t.c.id.in_([m.id for m in members[1:]])).values(merged_into=head.id))
        alert = compose(head.alert, [m.alert for m in members], len(members))
        leaders.append(_with_alert(head, alert))
    leaders = [_with_replaced(conn, row) for row in leaders]
    leaders.sort(key=lambda r: (r.next_attempt_at, r.id))
    return leaders


def _with_alert(row: OutboxRow, alert: Alert) -> OutboxRow:
    return replace(row, alert=alert)


def _with_replaced(conn: Connection, row: OutboxRow) -> OutboxRow:
    """A run-failure leader listing the task alerts it superseded."""
    if row.alert.kind is not AlertKind.RUN_FAILED:
        return row
    replaced = select(t.c.payload).where(t.c.merged_into == row.id, t.c.state == SUPERSEDED)
    total = int(conn.execute(select(func.count()).select_from(replaced.subquery())).scalar_one())
    if not total:
        return row
    listed = conn.execute(replaced.order_by(t.c.id).limit(LISTED)).scalars()
    return _with_alert(row, compose(row.alert, [from_payload(p) for p in listed], total))


def _group(row_id: int) -> ColumnElement[bool]:
    """The row and the pending members merged into it."""
    return or_(t.c.id == row_id, t.c.merged_into == row_id)


def mark_sent(conn: Connection, row_id: int, *, now: datetime) -> bool:
    """Record delivery of a pending row and its group's members (whoever holds the claim: it *was*
    delivered); False if it was no longer pending."""
    if not conn.execute(select(t.c.id).where(t.c.id == row_id, t.c.state == PENDING)).first():
        return False
    conn.execute(
        update(t)
        .where(_group(row_id), t.c.state == PENDING)
        .values(state=SENT, sent_at=utc(now), claimed_by=None, claimed_until=None)
    )
    return True


def mark_retry(conn: Connection, row_id: int, *, owner: str, next_attempt_at: datetime, error: str) -> bool:
    """Release ``owner``'s claim on a row (and its group's members) and make it due again at
    ``next_attempt_at``."""
    result = conn.execute(
        update(t)
        .where(_group(row_id), t.c.state == PENDING, t.c.claimed_by == owner)
        .values(
            next_attempt_at=utc(next_attempt_at),
            last_error=bounded_error(error),
            claimed_by=None,
            claimed_until=None,
            merged_into=None,
        )
    )
    return bool(result.rowcount)


def mark_dead(conn: Connection, row_id: int, *, owner: str, error: str) -> bool:
    """Give up on a row ``owner`` holds (and its group's members): it is never tried again."""
    result = conn.execute(
        update(t)
        .where(_group(row_id), t.c.state == PENDING, t.c.claimed_by == owner)
        .values(state=DEAD, last_error=bounded_error(error), claimed_by=None, claimed_until=None)
    )
    return bool(result.rowcount)


def counts(conn: Connection) -> dict[str, int]:
    """Rows by state (every state present, zero when none)."""
    found = dict.fromkeys(STATES, 0)
    for state, n in conn.execute(select(t.c.state, func.count()).group_by(t.c.state)):
        found[state] = int(n)
    return found


def prune(conn: Connection, *, older_than: datetime) -> int:
    """Delete finished rows (every state but ``pending``) created before ``older_than``; how many
    went. Pending rows are never pruned; a pruned alert re-derived later would be sent again, so
    keep more than the journal's retention."""
    done = (SENT, DEAD, SILENCED, SUPPRESSED, SUPERSEDED)
    stmt = delete(t).where(t.c.state.in_(done), t.c.created_at < utc(older_than))
    return int(conn.execute(stmt).rowcount)


def pending_count(conn: Connection) -> int:
    """How many rows are pending (the outbox's depth; an indexed count)."""
    return int(conn.execute(select(func.count()).select_from(t).where(t.c.state == PENDING)).scalar_one())


def next_due(conn: Connection, *, channels: Collection[str]) -> datetime | None:
    """When the earliest pending row of ``channels`` is (or was) due; None: no pending row. An
    indexed read. A row due already counts: it fell due after the last claim looked (the dispatcher
    ticks again at once instead of waiting out its poll interval)."""
    value = conn.execute(
        select(func.min(t.c.next_attempt_at)).where(t.c.state == PENDING, t.c.channel.in_(list(channels)))
    ).scalar_one()
    return None if value is None else from_db(value)


def list_rows(
    conn: Connection, *, state: str | None = None, dag_id: str | None = None, limit: int = 100
) -> list[OutboxRow]:
    """The newest rows (of ``state`` and ``dag_id`` if given), newest first: for ``windvane alerts list``."""
    stmt = select(t).order_by(t.c.id.desc()).limit(limit)
    if state is not None:
        stmt = stmt.where(t.c.state == state)
    if dag_id is not None:
        stmt = stmt.where(t.c.dag_id == dag_id)
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
        group_key=r["group_key"],
        merged_into=None if r["merged_into"] is None else int(r["merged_into"]),
        note=r["note"],
    )
