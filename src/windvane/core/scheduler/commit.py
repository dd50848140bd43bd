"""Committing one scheduler pass: its writes together, then the book and the executor learn of them.

All writes of a pass go in one transaction; a pass that only queues tries
writes one guarded UPDATE on a kept autocommit connection instead (the
BEGIN/COMMIT round trips dominate such a pass on PostgreSQL). Workloads reach
the executor only after the commit. A pass that journals nothing (it only
schedules and queues) commits without waiting for the WAL flush: see
:mod:`windvane.core.store.commit_mode` for why that is safe.
"""

from __future__ import annotations

from collections.abc import Callable

import pendulum
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError

from windvane.core.executors.base import Executor
from windvane.core.model.states import DagRunState
from windvane.core.model.states import TaskInstanceState as S
from windvane.core.model.workload import Workload
from windvane.core.scheduler.book import Book
from windvane.core.scheduler.model import ActiveRun, TiRecord
from windvane.core.scheduler.pass_work import PassWork
from windvane.core.store import commit_mode, dag_runs, task_instances
from windvane.core.store.journal_sql import JOURNALED_TI_STATES, JournalBatch, JournalReason
from windvane.core.store.sql_bridge import dbapi_tx


def group_states(states: dict[int, S]) -> dict[str, list[int]]:
    """ti id -> state, as state value -> ti ids (one UPDATE per state)."""
    grouped: dict[str, list[int]] = {}
    for ti_id, ti_state in states.items():
        grouped.setdefault(ti_state.value, []).append(ti_id)
    return grouped


def only_queues(work: PassWork, grouped: dict[str, list[int]], queued_ids: list[int]) -> bool:
    """The pass's one write is queueing at most one chunk of tries (one statement, atomic on its own)."""
    if not queued_ids or grouped or work.gave_up or work.finished_runs:
        return False
    return len(queued_ids) <= task_instances.CHUNK


def unjournaled(work: PassWork) -> bool:
    """The pass writes no journal row (no finished try, run or zombie): it only moves task
    instances between unfinished states, so it may commit without waiting for the flush
    (:mod:`~windvane.core.store.commit_mode`)."""
    return not (work.gave_up or work.finished_runs) and JOURNALED_TI_STATES.isdisjoint(
        s.value for s in work.states.values()
    )


def timed_out(run: ActiveRun, now: pendulum.DateTime) -> bool:
    return run.timeout_at is not None and now >= run.timeout_at


def workload(run: ActiveRun, ti: TiRecord, job_id: int) -> Workload:
    """What a worker needs to run the try just queued."""
    spec = run.dag.tasks[ti.task_id]
    return Workload(
        key=ti.key,
        try_number=ti.try_number,
        max_tries=ti.max_tries,
        job_id=job_id,
        fileloc=run.dag.fileloc,
        run_type=run.run_type,
        logical_date=run.logical_date.isoformat(),
        data_interval_start=run.data_interval_start.isoformat() if run.data_interval_start else None,
        data_interval_end=run.data_interval_end.isoformat() if run.data_interval_end else None,
        conf=run.conf,
        queue=spec.queue,
        pool=spec.pool,
        priority_weight=spec.priority_weight,
        execution_timeout=spec.execution_timeout,
    )


class Committer:
    """Writes each pass of ``book`` and hands the queued tries to ``executor`` (``job_id`` queues them)."""

    def __init__(self, engine: Engine, executor: Executor, book: Book) -> None:
        self.engine = engine
        self.executor = executor
        self.book = book
        self.job_id = 0
        self._auto_conn: Connection | None = None

    def commit(self, now: pendulum.DateTime, work: PassWork) -> None:
        if not work.has_writes:
            return
        grouped = group_states(work.states)
        queued_ids = [ti.ti_id for _, ti in work.queued]
        if only_queues(work, grouped, queued_ids):
            self._autocommit(lambda conn: task_instances.mark_queued(conn, queued_ids, self.job_id, now))
        else:
            with self.engine.begin() as conn:
                self._write(conn, now, work, grouped, queued_ids)
        self._after(now, work)

    def commit_with(
        self, now: pendulum.DateTime, work: PassWork, first: Callable[[Connection], None]
    ) -> None:
        """``first(conn)`` (the queueing critical section: it takes a lock and chooses what to queue),
        then the pass's writes, in one transaction: the lock is held until they commit."""
        with self.engine.begin() as conn:
            first(conn)
            if work.has_writes:
                queued_ids = [ti.ti_id for _, ti in work.queued]
                self._write(conn, now, work, group_states(work.states), queued_ids)
        if work.has_writes:
            self._after(now, work)

    def _after(self, now: pendulum.DateTime, work: PassWork) -> None:
        """The pass committed: the book learns it, the executor gets the workloads."""
        workloads = self._queued(now, work)
        self._finished_runs(now, work)
        for item in workloads:
            self.executor.queue(item)
        work.stats.queued = len(workloads)
        if work.finished_runs:
            self.book.recheck_past()

    def _write(
        self,
        conn: Connection,
        now: pendulum.DateTime,
        work: PassWork,
        grouped: dict[str, list[int]],
        queued_ids: list[int],
    ) -> None:
        journal = JournalBatch(now)
        if work.gave_up:
            task_instances.fail_tries(conn, work.gave_up, work.gave_up_reason, now, journal)
        if grouped or queued_ids:
            relaxed = unjournaled(work)
            task_instances.write_pass(conn, grouped, queued_ids, self.job_id, now, journal, relaxed=relaxed)
        for run, run_state in work.finished_runs:
            reason = None
            if run_state is DagRunState.FAILED and timed_out(run, now):
                task_instances.skip_unfinished(conn, run.id, now, journal)
                reason = JournalReason.DAGRUN_TIMEOUT
            dag_runs.finish_run(conn, run.id, run_state, now, journal, reason=reason)
        journal.write(dbapi_tx(conn))  # last: see windvane.core.store.journal_sql

    def _queued(self, now: pendulum.DateTime, work: PassWork) -> list[Workload]:
        """The book learns the committed tries; their workloads, in order."""
        now_ts = now.timestamp()
        out = []
        for run, ti in work.queued:
            self.book.mark_queued(run, ti, now, now_ts)
            out.append(workload(run, ti, self.job_id))
        return out

    def _finished_runs(self, now: pendulum.DateTime, work: PassWork) -> None:
        for run, run_state in work.finished_runs:
            self.book.finish_run(run, run_state, now)

    def _autocommit(self, statement: Callable[[Connection], object]) -> None:
        """Run one statement on a kept autocommit connection (reconnecting once if it broke)."""
        for attempt in (1, 2):
            try:
                if self._auto_conn is None:
                    self._auto_conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
                    commit_mode.relax_session(self._auto_conn)
                statement(self._auto_conn)
                return
            except DBAPIError as exc:
                if self._auto_conn is not None:
                    self._auto_conn.invalidate()  # never back to the pool with the relaxed commits
                    self._auto_conn.close()
                self._auto_conn = None
                if attempt == 2 or not exc.connection_invalidated:
                    raise

    def close(self) -> None:
        if self._auto_conn is not None:
            try:
                commit_mode.restore_session(self._auto_conn)
            except DBAPIError:
                self._auto_conn.invalidate()
            self._auto_conn.close()
            self._auto_conn = None
