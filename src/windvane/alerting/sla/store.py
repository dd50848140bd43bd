"""Every statement on ``sla_miss``, and the indexed reads of due SLA and deadline times.

Each function takes a :class:`~sqlalchemy.Connection` inside the caller's
transaction. The due reads use core's partial indexes on
``task_instance.sla_due_at`` and ``dag_run.deadline_at`` and look back only
``since`` (so their cost does not grow with history). :func:`record` is an
``INSERT ... ON CONFLICT DO NOTHING`` on (``dag_run_id``, ``task_id``): with
several monitors exactly one insert wins, and only the winner alerts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, and_, delete, literal, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from windvane.alerting.sla.decisions import IGNORED, SUCCEEDED, BlockingTi
from windvane.alerting.tables import RUN_DEADLINE, RUN_DEADLINE_KIND, TASK_SLA, sla_miss
from windvane.core.store._time import from_db, to_db
from windvane.core.store.tables import dag_run as dr
from windvane.core.store.tables import task_instance as ti
from windvane.errors import StoreError

m = sla_miss


def utc(value: datetime) -> datetime:
    """``value`` as aware UTC for the columns; naive values are refused."""
    return to_db(value, "an SLA time")


@dataclass(frozen=True, slots=True)
class Candidate:
    """A task instance (or a run: ``task_id`` is :data:`RUN_DEADLINE`) whose due time passed and
    that had not met it when read."""

    kind: str
    dag_id: str
    run_id: str
    dag_run_id: int
    task_id: str
    run_type: str
    logical_date: datetime
    due_at: datetime
    state: str
    end_date: datetime | None


@dataclass(frozen=True, slots=True)
class MissRow:
    """One ``sla_miss`` row."""

    id: int
    kind: str
    dag_id: str
    run_id: str
    dag_run_id: int
    task_id: str
    run_type: str
    logical_date: datetime
    due_at: datetime
    detected_at: datetime
    state: str
    recovered_at: datetime | None
    callback_done_at: datetime | None


def _no_miss_yet(run_pk: Any, task_id: Any) -> Any:
    return ~select(literal(1)).where(m.c.dag_run_id == run_pk, m.c.task_id == task_id).exists()


def due_tasks(
    conn: Connection, *, now: datetime, since: datetime, check_backfill: bool, limit: int = 500
) -> list[Candidate]:
    """Task instances whose ``sla_due_at`` is in (``since``, ``now``], that had not succeeded by it
    (still unfinished, failed, or finished after it), with no miss recorded: oldest due first."""
    query = (
        select(
            ti.c.dag_id,
            ti.c.run_id,
            ti.c.dag_run_id,
            ti.c.task_id,
            ti.c.state,
            ti.c.end_date,
            ti.c.sla_due_at,
            dr.c.run_type,
            dr.c.logical_date,
        )
        .join(dr, dr.c.id == ti.c.dag_run_id)
        .where(
            ti.c.sla_due_at.is_not(None),
            ti.c.sla_due_at <= utc(now),
            ti.c.sla_due_at > utc(since),
            ti.c.state.notin_(list(IGNORED)),
            or_(ti.c.state.notin_(list(SUCCEEDED)), ti.c.end_date.is_(None), ti.c.end_date > ti.c.sla_due_at),
            _no_miss_yet(ti.c.dag_run_id, ti.c.task_id),
        )
        .order_by(ti.c.sla_due_at, ti.c.id)
        .limit(limit)
    )
    if not check_backfill:
        query = query.where(dr.c.run_type != "backfill")
    return [
        Candidate(
            kind=TASK_SLA,
            dag_id=r.dag_id,
            run_id=r.run_id,
            dag_run_id=int(r.dag_run_id),
            task_id=r.task_id,
            run_type=r.run_type,
            logical_date=from_db(r.logical_date),
            due_at=from_db(r.sla_due_at),
            state=r.state,
            end_date=from_db(r.end_date),
        )
        for r in conn.execute(query)
    ]


def due_runs(
    conn: Connection, *, now: datetime, since: datetime, check_backfill: bool, limit: int = 500
) -> list[Candidate]:
    """Runs whose ``deadline_at`` is in (``since``, ``now``], not successful by it, with no miss recorded."""
    query = (
        select(
            dr.c.id,
            dr.c.dag_id,
            dr.c.run_id,
            dr.c.run_type,
            dr.c.logical_date,
            dr.c.state,
            dr.c.end_date,
            dr.c.deadline_at,
        )
        .where(
            dr.c.deadline_at.is_not(None),
            dr.c.deadline_at <= utc(now),
            dr.c.deadline_at > utc(since),
            or_(dr.c.state != "success", dr.c.end_date.is_(None), dr.c.end_date > dr.c.deadline_at),
            _no_miss_yet(dr.c.id, literal(RUN_DEADLINE)),
        )
        .order_by(dr.c.deadline_at, dr.c.id)
        .limit(limit)
    )
    if not check_backfill:
        query = query.where(dr.c.run_type != "backfill")
    return [
        Candidate(
            kind=RUN_DEADLINE_KIND,
            dag_id=r.dag_id,
            run_id=r.run_id,
            dag_run_id=int(r.id),
            task_id=RUN_DEADLINE,
            run_type=r.run_type,
            logical_date=from_db(r.logical_date),
            due_at=from_db(r.deadline_at),
            state=r.state,
            end_date=from_db(r.end_date),
        )
        for r in conn.execute(query)
    ]


def record(
    conn: Connection,
    found: Candidate,
    *,
    now: datetime,
    callback_pending: bool,
    recovered_at: datetime | None = None,
) -> int | None:
    """Insert the miss; its id, or None when a miss of that run and task exists already (another
    monitor won). ``callback_pending`` False marks its callback done (the DAG has none)."""
    values: dict[str, Any] = {
        "kind": found.kind,
        "dag_id": found.dag_id,
        "run_id": found.run_id,
        "dag_run_id": found.dag_run_id,
        "task_id": found.task_id,
        "run_type": found.run_type,
        "logical_date": utc(found.logical_date),
        "due_at": utc(found.due_at),
        "detected_at": utc(now),
        "state": found.state,
        "recovered_at": None if recovered_at is None else utc(recovered_at),
        "callback_done_at": None if callback_pending else utc(now),
    }
    dialect = conn.dialect.name
    if dialect == "postgresql":
        stmt: Any = postgresql.insert(m).values(values)
    elif dialect == "sqlite":
        stmt = sqlite.insert(m).values(values)
    else:
        raise StoreError(f"unsupported database dialect {dialect!r} (sla_miss)")
    stmt = stmt.on_conflict_do_nothing(index_elements=["dag_run_id", "task_id"]).returning(m.c.id)
    inserted = conn.execute(stmt).scalar_one_or_none()
    return None if inserted is None else int(inserted)


def claim_callbacks(conn: Connection, *, now: datetime, until: datetime, limit: int = 500) -> list[MissRow]:
    """Claim misses whose callback is pending and unclaimed (or whose claim ran out) until ``until``."""
    due = (
        select(m.c.id)
        .where(
            m.c.callback_done_at.is_(None),
            or_(m.c.callback_claimed_until.is_(None), m.c.callback_claimed_until <= utc(now)),
        )
        .order_by(m.c.id)
        .limit(limit)
    )
    if conn.dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    ids = list(conn.execute(due).scalars())
    if not ids:
        return []
    conn.execute(update(m).where(m.c.id.in_(ids)).values(callback_claimed_until=utc(until)))
    return [_row(r) for r in conn.execute(select(m).where(m.c.id.in_(ids)).order_by(m.c.id)).mappings()]


def callbacks_pending(conn: Connection, *, now: datetime) -> bool:
    """Whether :func:`claim_callbacks` would claim anything now (a read: no lock taken)."""
    query = select(m.c.id).where(
        m.c.callback_done_at.is_(None),
        or_(m.c.callback_claimed_until.is_(None), m.c.callback_claimed_until <= utc(now)),
    )
    return conn.execute(query.limit(1)).first() is not None


def finish_callbacks(conn: Connection, ids: Sequence[int], *, now: datetime) -> None:
    """Mark the callbacks of ``ids`` done (called, raised or timed out alike: never called again)."""
    conn.execute(update(m).where(m.c.id.in_(list(ids))).values(callback_done_at=utc(now)))


def recoveries(conn: Connection, *, since: datetime) -> list[tuple[MissRow, datetime]]:
    """Unrecovered misses detected after ``since`` whose task (or run) has now succeeded, with when."""
    tasks = (
        select(m, ti.c.end_date.label("finished"))
        .join(ti, and_(ti.c.dag_run_id == m.c.dag_run_id, ti.c.task_id == m.c.task_id))
        .where(
            m.c.recovered_at.is_(None),
            m.c.detected_at > utc(since),
            m.c.kind == TASK_SLA,
            ti.c.state.in_(list(SUCCEEDED)),
            ti.c.end_date.is_not(None),
        )
    )
    runs = (
        select(m, dr.c.end_date.label("finished"))
        .join(dr, dr.c.id == m.c.dag_run_id)
        .where(
            m.c.recovered_at.is_(None),
            m.c.detected_at > utc(since),
            m.c.kind == RUN_DEADLINE_KIND,
            dr.c.state == "success",
            dr.c.end_date.is_not(None),
        )
    )
    found: dict[int, tuple[MissRow, datetime]] = {}
    for query in (tasks, runs):
        for r in conn.execute(query).mappings():
            finished = from_db(r["finished"])
            found.setdefault(int(r["id"]), (_row(r), finished))
    return sorted(found.values(), key=lambda pair: pair[0].id)


def mark_recovered(conn: Connection, miss_id: int, *, at: datetime) -> bool:
    """Set ``recovered_at``; False when it was set already (another monitor did it)."""
    result = conn.execute(
        update(m).where(m.c.id == miss_id, m.c.recovered_at.is_(None)).values(recovered_at=utc(at))
    )
    return bool(result.rowcount)


def blocking(conn: Connection, run_pks: Sequence[int]) -> list[BlockingTi]:
    """The task instances of ``run_pks`` that have not succeeded (``blocking_tis``)."""
    query = (
        select(ti, dr.c.logical_date.label("run_logical_date"))
        .join(dr, dr.c.id == ti.c.dag_run_id)
        .where(ti.c.dag_run_id.in_(list(run_pks)), ti.c.state.notin_([*SUCCEEDED, *IGNORED]))
        .order_by(dr.c.logical_date, ti.c.task_id, ti.c.map_index)
    )
    return [
        BlockingTi(
            dag_id=r["dag_id"],
            task_id=r["task_id"],
            run_id=r["run_id"],
            map_index=int(r["map_index"]),
            state=r["state"],
            try_number=int(r["try_number"]),
            logical_date=from_db(r["run_logical_date"]),
            start_date=from_db(r["start_date"]),
            end_date=from_db(r["end_date"]),
        )
        for r in conn.execute(query).mappings()
    ]


def prune(conn: Connection, *, older_than: datetime) -> int:
    """Delete misses detected before ``older_than`` whose callback is done; how many went. A miss
    whose callback is still pending is kept whatever its age. The caller keeps ``older_than``
    before the monitor's lookback, so a pruned miss can never be detected (and alerted) again."""
    stmt = delete(m).where(*_prunable(older_than))
    return int(conn.execute(stmt).rowcount or 0)


def any_prunable(conn: Connection, *, older_than: datetime) -> bool:
    """Whether :func:`prune` would delete anything (a read: no write lock taken)."""
    return conn.execute(select(m.c.id).where(*_prunable(older_than)).limit(1)).first() is not None


def _prunable(older_than: datetime) -> tuple[Any, ...]:
    return (m.c.detected_at < utc(older_than), m.c.callback_done_at.is_not(None))


def list_misses(conn: Connection, *, dag_id: str | None = None, limit: int = 100) -> list[MissRow]:
    """The newest misses (of ``dag_id`` if given), newest first: for ``windvane alerts sla-misses``."""
    query = select(m).order_by(m.c.detected_at.desc(), m.c.id.desc()).limit(limit)
    if dag_id is not None:
        query = query.where(m.c.dag_id == dag_id)
    return [_row(r) for r in conn.execute(query).mappings()]


def _row(r: RowMapping) -> MissRow:
    return MissRow(
        id=int(r["id"]),
        kind=r["kind"],
        dag_id=r["dag_id"],
        run_id=r["run_id"],
        dag_run_id=int(r["dag_run_id"]),
        task_id=r["task_id"],
        run_type=r["run_type"],
        logical_date=from_db(r["logical_date"]),
        due_at=from_db(r["due_at"]),
        detected_at=from_db(r["detected_at"]),
        state=r["state"],
        recovered_at=from_db(r["recovered_at"]),
        callback_done_at=from_db(r["callback_done_at"]),
    )
