"""Writing task instances from the scheduler and the CLI: create a run's rows, set decided states.

Every write is an UPDATE guarded by the state the writer believes a row is
in, so a concurrent change (a worker, a CLI clear) is never overwritten. The
statements that move a *try* (queue, give up, reset orphans) are those of
:mod:`windvane.core.store.try_lifecycle`, run here on the DBAPI connection
under SQLAlchemy's. Final states are journaled through the caller's
:class:`~windvane.core.store.journal_sql.JournalBatch`, which the caller writes
last in the same transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from windvane.core.model import deadlines
from windvane.core.model.serialized_dag import SerializedDag
from windvane.core.model.states import TaskInstanceState
from windvane.core.store import dag_runs, try_lifecycle
from windvane.core.store.journal_sql import JOURNALED_TI_STATES, TI_RETURNING, JournalBatch, JournalReason
from windvane.core.store.sql_bridge import dbapi_tx, run_sql
from windvane.core.store.tables import task_instance as ti_t

S = TaskInstanceState
FINISHED = [s.value for s in (S.SUCCESS, S.FAILED, S.UPSTREAM_FAILED, S.SKIPPED, S.REMOVED)]
#: Ids per statement.
CHUNK = try_lifecycle.QUEUE_CHUNK
_RETURNING = [ti_t.c[name] for name in TI_RETURNING]


def chunks(ids: Sequence[int]) -> Iterable[Sequence[int]]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]


def ensure_task_instances(
    conn: Connection, run_pk: int, run_id: str, dag: SerializedDag, now: datetime
) -> None:
    """Create missing TIs of ``dag`` for the run, and mark TIs of vanished tasks removed.

    A task with ``sla`` gets its ``sla_due_at`` in the same INSERT (the run's due time is
    read once per call, only when a missing task has an ``sla``)."""
    existing = {
        r[0]: r[1]
        for r in conn.execute(select(ti_t.c.task_id, ti_t.c.state).where(ti_t.c.dag_run_id == run_pk))
    }
    missing = [t for t in dag.tasks.values() if t.task_id not in existing]
    due = dag_runs.due_at(conn, run_pk) if any(t.sla is not None for t in missing) else None
    if missing:
        conn.execute(
            insert(ti_t),
            [
                {
                    "dag_run_id": run_pk,
                    "dag_id": dag.dag_id,
                    "run_id": run_id,
                    "task_id": t.task_id,
                    "state": S.NONE.value,
                    "try_number": 0,
                    "max_tries": t.retries,
                    "priority_weight": t.priority_weight,
                    "pool": t.pool,
                    "pool_slots": t.pool_slots,
                    "queue": t.queue,
                    "operator": t.operator,
                    "updated_at": now,
                    "sla_due_at": None if due is None else deadlines.after(due, t.sla),
                }
                for t in missing
            ],
        )
    gone = [tid for tid, state in existing.items() if tid not in dag.tasks and state not in FINISHED]
    if gone:
        conn.execute(
            update(ti_t)
            .where(ti_t.c.dag_run_id == run_pk, ti_t.c.task_id.in_(gone))
            .values(state=S.REMOVED.value, updated_at=now)
        )


def set_states(conn: Connection, changes: dict[str, list[int]], now: datetime, journal: JournalBatch) -> None:
    """Write scheduler-decided states (scheduled, skipped, upstream_failed, the success of a no-op
    task...), grouped by state, to rows neither finished nor running; final ones are journaled."""
    for state, ids in changes.items():
        finished = state in FINISHED
        journaled = state in JOURNALED_TI_STATES
        for chunk in chunks(ids):
            values: dict[str, Any] = {"state": state, "updated_at": now}
            if finished:
                values["end_date"] = now
            if state == S.SCHEDULED.value:
                values["scheduled_dttm"] = now
            stmt = (
                update(ti_t)
                .where(ti_t.c.id.in_(chunk), ti_t.c.state.notin_([*FINISHED, "running"]))
                .values(**values)
            )
            if journaled:
                journal.add_tis(conn.execute(stmt.returning(*_RETURNING)))
            else:
                conn.execute(stmt)


def mark_queued(conn: Connection, ti_ids: Sequence[int], job_id: int, now: datetime) -> int:
    """Queue tries (:func:`~windvane.core.store.try_lifecycle.queue_tries`) through SQLAlchemy, so an
    autocommit connection keeps its reconnect. Returns rows changed."""
    return sum(
        run_sql(conn, sql, params)
        for sql, params in try_lifecycle.queue_statements(ti_ids, job_id, now, conn.dialect.name)
    )


def fail_tries(
    conn: Connection,
    rows: Sequence[tuple[int, int, str, datetime | None]],
    error: str,
    now: datetime,
    journal: JournalBatch,
) -> int:
    """Finish running tries the scheduler gave up on (zombies): (ti_id, try_number, new_state,
    next_retry_at); see :func:`~windvane.core.store.try_lifecycle.give_up_tries`."""
    tries = [try_lifecycle.GiveUp(i, t, S(s), r) for i, t, s, r in rows]
    return try_lifecycle.give_up_tries(dbapi_tx(conn), tries, error, now, journal)


def skip_unfinished(conn: Connection, run_pk: int, now: datetime, journal: JournalBatch) -> None:
    """Skip every unfinished task instance of a run that timed out (``dagrun_timeout``), running
    ones too; the skips decided earlier in ``journal`` for that run are the timeout's as well."""
    stmt = (
        update(ti_t)
        .where(ti_t.c.dag_run_id == run_pk, ti_t.c.state.notin_(FINISHED))
        .values(state=S.SKIPPED.value, end_date=now, updated_at=now)
        .returning(*_RETURNING)
    )
    journal.relabel(run_pk, S.SKIPPED.value, JournalReason.DAGRUN_TIMEOUT)
    journal.add_tis(conn.execute(stmt), reason=JournalReason.DAGRUN_TIMEOUT)


def finish_unclaimed(
    conn: Connection, finishes: Sequence[try_lifecycle.UnclaimedFinish], end: datetime
) -> set[int]:
    """Finish queued tries without running them (the instant executor), journaled; the journal rows
    are written here, so nothing may be written after this in the transaction. The ids of the
    task instances finished."""
    journal = JournalBatch(end)
    changed = try_lifecycle.finish_unclaimed(dbapi_tx(conn), finishes, end, journal)
    journal.write(dbapi_tx(conn))
    return changed


def reset_orphaned(conn: Connection, live_job_ids: Sequence[int], now: datetime) -> int:
    """Queued tries of dead jobs go back to scheduled (see
    :func:`~windvane.core.store.try_lifecycle.reset_orphaned_tries`)."""
    return try_lifecycle.reset_orphaned_tries(dbapi_tx(conn), live_job_ids, now)
