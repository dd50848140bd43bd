"""The database side of one try a worker runs: stamp its heartbeats, record how it ended.

This module, :mod:`windvane.core.store.try_claim` (the claim) and
:mod:`windvane.core.store.try_queue` (the scheduler's statements over many tries: queue them,
give up on zombies, finish unclaimed ones, reset orphans) own every guarded statement that moves
a try, so each guard is written once; workers run them on a
:class:`~windvane.core.store.raw.RawDb`
(plain SQL, no SQLAlchemy: the claim and a heartbeat are one statement each),
the scheduler, the instant executor and the CLI on the DBAPI connection under
SQLAlchemy's (:mod:`windvane.core.store.task_instances`). Each changes a try's
row only in the state its writer expects:

* :func:`~windvane.core.store.try_claim.claim_try` — ``queued -> running`` where ``id``, ``state='queued'``,
  ``try_number`` and ``queued_by_job_id`` all match (the *queued guard*);
  otherwise the try must not run. It also reads what the context needs (the
  previous successful run's data interval, the run's start).
* :func:`record_heartbeat` — ``last_heartbeat_at`` where ``state='running'``
  and ``try_number`` match (the *running guard*, :data:`RUNNING_GUARD`).
* :func:`finish_try` — the final state under the running guard, the XComs,
  the rendered template fields (:mod:`windvane.core.store.rendered_fields_sql`),
  the downstream tasks a branch skipped, and their journal rows (and, if the worker holds its
  next try already, that try's claim, in the finish's own statement:
  :class:`~windvane.core.store.try_claim.ClaimNext`); or, for a
  sensor that asked to be rescheduled, ``up_for_reschedule`` with the try
  number given back and a ``task_reschedule`` row (no journal row: not an end). If the guard
  finds the row changed by someone else (a zombie sweep, a clear) nothing is
  written and the event's ``state`` is None, as for a failed claim.
* :func:`make_event` — the :class:`~windvane.core.model.workload.TaskEvent` every executor reports.

Every final state is journaled in the same transaction
(:mod:`windvane.core.store.journal_sql`), from the rows the guarded update
returned: an update that changed nothing journals nothing. A worker's finish is one ``UPDATE``
that also claims its next try and, when it writes nothing else, journals by trigger
(:mod:`windvane.core.store.try_finish_sql`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from windvane.core.model.outcome import TryOutcome
from windvane.core.model.states import TaskInstanceState
from windvane.core.model.workload import TaskEvent, Workload
from windvane.core.store.journal_sql import TI_RETURNING_SQL, JournalBatch, JournalReason
from windvane.core.store.raw import RawDb
from windvane.core.store.raw_sql import (
    Row,
    Sql,
    Tx,
    read_time,
)
from windvane.core.store.rendered_fields_sql import record_for_try
from windvane.core.store.try_claim import ClaimNext, now_utc
from windvane.core.store.try_finish_sql import end_params, end_statement, read_end
from windvane.core.store.xcom_sql import replace_xcoms

_S = TaskInstanceState
#: A running try still the worker's: the guard of its heartbeats and of every finish (``:ti_id``,
#: ``:running``, ``:try_number``).
RUNNING_GUARD = "id = :ti_id AND state = :running AND try_number = :try_number"
_HEARTBEAT = Sql(f"UPDATE task_instance SET last_heartbeat_at = :now WHERE {RUNNING_GUARD} RETURNING id")
_START_DATE = Sql("SELECT start_date FROM task_instance WHERE id = :ti_id")
#: A try that ends up_for_reschedule gives its try number back (the next queue takes it again, as in
#: Airflow) and waits for ``next_retry_at``; no journal row, no XCom: it is not an end.
_RESCHEDULE = Sql(
    "UPDATE task_instance SET state = :state, try_number = try_number - 1, end_date = :end, "
    "duration = :duration, error = NULL, next_retry_at = :retry_at, updated_at = :end "
    f"WHERE {RUNNING_GUARD} RETURNING id"
)
_RESCHEDULE_ROW = Sql(
    "INSERT INTO task_reschedule (ti_id, try_number, start_date, end_date, duration, reschedule_date) "
    "VALUES (:ti_id, :try_number, :start, :end, :duration, :retry_at)"
)
_SKIP = Sql(
    "UPDATE task_instance SET state = :skipped, end_date = :end, updated_at = :end "
    "WHERE dag_run_id = :dag_run_id AND task_id = :task_id AND state IN (:none, :scheduled) "
    + TI_RETURNING_SQL
)


def record_heartbeat(db: RawDb, workload: Workload) -> bool:
    """Stamp ``last_heartbeat_at``; False when the try no longer owns its row."""
    return bool(db.write_one(_HEARTBEAT, {**_guard(workload), "now": now_utc()}))


def finish_try(
    db: RawDb,
    workload: Workload,
    outcome: TryOutcome,
    *,
    start_date: datetime | None = None,
    reason: JournalReason | None = None,
    then: ClaimNext | None = None,
) -> TaskEvent:
    """Record ``outcome`` (state, XComs, skips, journal rows with ``reason``) in one transaction;
    see the module doc. With ``then``, the same transaction claims the worker's next try
    (:class:`ClaimNext`), whether or not this try's row was still its own: in the finish's own
    statement (:mod:`windvane.core.store.try_finish_sql`). A finish that writes nothing else is
    that one statement, its journal row written by the database's trigger."""
    end = now_utc()
    retry_at = end + outcome.next_retry_delay if outcome.next_retry_delay is not None else None
    if outcome.state is not _S.UP_FOR_RETRY:
        retry_at = None
    if outcome.state is _S.UP_FOR_RESCHEDULE:
        retry_at = outcome.reschedule_at or end
    skip = sorted(set(outcome.skip_task_ids) - {workload.task_id})
    # Nothing to write but the row (a first try has no XComs to delete): the trigger journals it.
    alone = not skip and not outcome.xcoms and outcome.rendered_fields is None and workload.try_number == 1
    if then is not None:
        then.claim, then.tried = None, False

    def statement(started: datetime | None) -> tuple[Sql, dict[str, Any]]:
        sensor = then is not None and then.first_try is not None
        sql = end_statement(follower=then is not None, sensor=sensor, journaled=alone)
        params = end_params(
            workload,
            state=outcome.state,
            end=end,
            duration=(end - started).total_seconds() if started is not None else None,
            error=outcome.error,
            retry_at=retry_at,
            reason=None if reason is None else reason.value,
            then=then,
        )
        return sql, params

    def ended(rows: Sequence[Row]) -> tuple[Sequence[Row], TaskEvent]:
        """The finished row (none if the running guard failed) and the event, from what the
        statement returned; the next try's claim goes to ``then``."""
        found = read_end(rows, end)
        if then is not None:
            then.claim, then.tried = found.claim, True
        if found.finished:
            return found.finished, done
        lost = "the task instance was changed elsewhere while the try ran; "
        return (), make_event(
            workload, None, end, error=f"{lost}its outcome ({outcome.state.value}) was not recorded"
        )

    done = make_event(
        workload, outcome.state.value, end, error=outcome.error, retry_at=retry_at, outcome=outcome
    )
    if alone and start_date is not None and outcome.state is not _S.UP_FOR_RESCHEDULE:
        return ended(db.write_one(*statement(start_date)))[1]  # one statement, one round trip

    def finish(tx: Tx) -> TaskEvent:
        if then is not None:  # again on each attempt (RawDb retries a transaction that broke)
            then.claim, then.tried = None, False
        started = start_date
        if started is None:
            found = tx.first(_START_DATE, {"ti_id": workload.ti_id})
            started = read_time(found[0]) if found is not None else None
        if outcome.state is _S.UP_FOR_RESCHEDULE:
            event = _reschedule(tx, workload, outcome, started, end, retry_at or end)
            if then is not None:
                then.run(tx)
            return event
        finished, event = ended(tx.rows(*statement(started)))
        if not finished or alone:  # rejected, or journaled by the trigger
            return event
        journal = JournalBatch(end)
        journal.add_tis(finished, reason=reason)
        skipped = _skip(tx, workload, skip, end, journal) if skip else ()
        replace_xcoms(
            tx,
            workload.dag_run_id,
            workload.dag_id,
            workload.run_id,
            workload.task_id,
            outcome.xcoms,
            end,
            map_index=workload.map_index,
            first_try=workload.try_number == 1,
        )
        record_for_try(tx, workload, outcome.rendered_fields, end, prune=workload.try_number == 1)
        journal.write(tx)  # last: on PostgreSQL it takes the journal's lock
        return dataclasses.replace(done, skipped_task_ids=skipped)

    return db.write(finish)


def _reschedule(
    tx: Tx, workload: Workload, outcome: TryOutcome, started: datetime | None, end: datetime, at: datetime
) -> TaskEvent:
    """The try ends ``up_for_reschedule`` until ``at``, with its ``task_reschedule`` row."""
    duration = (end - started).total_seconds() if started is not None else None
    params = {**_guard(workload), "state": _S.UP_FOR_RESCHEDULE.value, "end": end}
    if not tx.rows(_RESCHEDULE, {**params, "duration": duration, "retry_at": at}):
        return make_event(
            workload,
            None,
            end,
            error="the task instance was changed elsewhere while the try ran; "
            "its reschedule was not recorded",
        )
    row = {"ti_id": workload.ti_id, "try_number": workload.try_number, "start": started or end}
    tx.execute(_RESCHEDULE_ROW, {**row, "end": end, "duration": duration, "retry_at": at})
    record_for_try(tx, workload, outcome.rendered_fields, end, prune=False)  # no prune per poke
    return make_event(workload, _S.UP_FOR_RESCHEDULE.value, end, retry_at=at, outcome=outcome)


def _skip(
    tx: Tx, workload: Workload, task_ids: list[str], end: datetime, journal: JournalBatch
) -> tuple[str, ...]:
    """Skip those of ``task_ids`` (every map index) not started yet; the ids that were."""
    params: dict[str, Any] = {
        "skipped": _S.SKIPPED.value,
        "none": _S.NONE.value,
        "scheduled": _S.SCHEDULED.value,
        "dag_run_id": workload.dag_run_id,
        "end": end,
    }
    skipped = []
    for task_id in task_ids:
        rows = tx.rows(_SKIP, {**params, "task_id": task_id})
        if rows:
            journal.add_tis(rows, reason=JournalReason.BRANCH)
            skipped.append(task_id)
    return tuple(skipped)


def _guard(workload: Workload) -> dict[str, Any]:
    return {"ti_id": workload.ti_id, "running": _S.RUNNING.value, "try_number": workload.try_number}


def make_event(
    workload: Workload,
    state: str | None,
    at: datetime | float,
    *,
    error: str | None = None,
    skipped: tuple[str, ...] = (),
    retry_at: datetime | None = None,
    outcome: TryOutcome | None = None,
) -> TaskEvent:
    return TaskEvent(
        key=workload.key,
        try_number=workload.try_number,
        state=state,
        skipped_task_ids=skipped,
        at=at.timestamp() if isinstance(at, datetime) else at,
        error=error,
        next_retry_at=retry_at.timestamp() if retry_at is not None else None,
        sensor_pokes=outcome.sensor_pokes if outcome is not None else 0,
        sensor_timeout=outcome.sensor_timeout if outcome is not None else False,
    )
