"""Writing task instances from the scheduler and the CLI: create a run's rows, set decided states.

Every write is an UPDATE guarded by the state the writer believes a row is
in, so a concurrent change (a worker, a CLI clear) is never overwritten. The
statements that move a *try* (queue, give up, reset orphans) are those of
:mod:`windvane.core.store.try_queue`, run here on the DBAPI connection
under SQLAlchemy's. Final states are journaled through the caller's
:class:`~windvane.core.store.journal_sql.JournalBatch`, which the caller writes
last in the same transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, insert, select, update

from windvane.core.model import deadlines
from windvane.core.model.serialized_dag import SerializedDag
from windvane.core.model.states import TaskInstanceState
from windvane.core.store import commit_mode, dag_runs, try_queue
from windvane.core.store.journal_sql import JOURNALED_TI_STATES, TI_RETURNING, JournalBatch, JournalReason
from windvane.core.store.raw_sql import Sql, ids_params, match_ids
from windvane.core.store.sql_bridge import dbapi_tx, run_sql
from windvane.core.store.tables import task_instance as ti_t

S = TaskInstanceState
FINISHED = [s.value for s in (S.SUCCESS, S.FAILED, S.UPSTREAM_FAILED, S.SKIPPED, S.REMOVED)]
#: Ids per statement.
CHUNK = try_queue.QUEUE_CHUNK
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
    write_pass(conn, changes, [], 0, now, journal)


def write_pass(
    conn: Connection,
    changes: dict[str, list[int]],
    queued_ids: Sequence[int],
    job_id: int,
    now: datetime,
    journal: JournalBatch,
    *,
    relaxed: bool = False,
) -> None:
    """A scheduler pass's task-instance writes: the decided states (:func:`set_states`), then the
    queueing of ``queued_ids`` by ``job_id``. Journaled states go first (their ``RETURNING`` rows
    feed ``journal``); the others and the queueing, whose results nobody reads, are prepared plain
    statements (one array parameter each) sent together in one round trip (PostgreSQL pipeline).
    ``relaxed``: the transaction commits without waiting for the flush
    (:mod:`~windvane.core.store.commit_mode`; only for a pass that journals nothing)."""
    for state, ids in changes.items():
        if state in JOURNALED_TI_STATES:
            for chunk in chunks(ids):
                journal.add_tis(conn.execute(_state_update(state, now, chunk).returning(*_RETURNING)))
    tx = dbapi_tx(conn)
    silent = [(state, ids) for state, ids in changes.items() if state not in JOURNALED_TI_STATES]
    if not silent and not queued_ids:
        return
    with tx.pipeline():
        if relaxed:
            commit_mode.relax_transaction(tx)
        for state, ids in silent:
            for chunk in chunks(ids):
                params = {"state": state, "now": now, **ids_params(chunk, tx.dialect)}
                tx.execute(_state_sql(state, len(chunk)), params)
        for sql, params in try_queue.queue_statements(queued_ids, job_id, now, tx.dialect):
            tx.execute(sql, params)


def _state_update(state: str, now: datetime, ids: Sequence[int]) -> Any:
    values: dict[str, Any] = {"state": state, "updated_at": now}
    if state in FINISHED:
        values["end_date"] = now
    if state == S.SCHEDULED.value:
        values["scheduled_dttm"] = now
    return (
        update(ti_t).where(ti_t.c.id.in_(ids), ti_t.c.state.notin_([*FINISHED, "running"])).values(**values)
    )


_UNSETTLED = "state NOT IN (" + ", ".join(f"'{s}'" for s in [*FINISHED, S.RUNNING.value]) + ")"


@lru_cache(maxsize=512)
def _state_sql(state: str, count: int) -> Sql:
    """The plain form of :func:`_state_update` for ``count`` ids."""
    extra = (", end_date = :now" if state in FINISHED else "") + (
        ", scheduled_dttm = :now" if state == S.SCHEDULED.value else ""
    )
    sets = f"state = :state, updated_at = :now{extra}"
    return match_ids(f"UPDATE task_instance SET {sets} WHERE id {{ids}} AND {_UNSETTLED}", count)


def mark_queued(conn: Connection, ti_ids: Sequence[int], job_id: int, now: datetime) -> int:
    """Queue tries (:func:`~windvane.core.store.try_queue.queue_tries`) through SQLAlchemy, so an
    autocommit connection keeps its reconnect. Returns rows changed."""
    return sum(
        run_sql(conn, sql, params)
        for sql, params in try_queue.queue_statements(ti_ids, job_id, now, conn.dialect.name)
    )


def fail_tries(
    conn: Connection,
    rows: Sequence[tuple[int, int, str, datetime | None]],
    error: str,
    now: datetime,
    journal: JournalBatch,
) -> int:
    """Finish running tries the scheduler gave up on (zombies): (ti_id, try_number, new_state,
    next_retry_at); see :func:`~windvane.core.store.try_queue.give_up_tries`."""
    tries = [try_queue.GiveUp(i, t, S(s), r) for i, t, s, r in rows]
    return try_queue.give_up_tries(dbapi_tx(conn), tries, error, now, journal)


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
    conn: Connection, finishes: Sequence[try_queue.UnclaimedFinish], end: datetime
) -> set[int]:
    """Finish queued tries without running them (the instant executor), journaled; the journal rows
    are written here, so nothing may be written after this in the transaction. The ids of the
    task instances finished."""
    journal = JournalBatch(end)
    changed = try_queue.finish_unclaimed(dbapi_tx(conn), finishes, end, journal)
    journal.write(dbapi_tx(conn))
    return changed


def reset_orphaned(conn: Connection, live_job_ids: Sequence[int], now: datetime) -> int:
    """Queued tries of dead jobs go back to scheduled (see
    :func:`~windvane.core.store.try_queue.reset_orphaned_tries`)."""
    return try_queue.reset_orphaned_tries(dbapi_tx(conn), live_job_ids, now)
