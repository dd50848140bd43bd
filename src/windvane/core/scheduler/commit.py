"""Committing one scheduler pass: its writes together, then the book and the executor learn of them.

All writes of a pass go in one transaction; a pass that only queues tries
writes one guarded UPDATE on a kept autocommit connection instead (the
BEGIN/COMMIT round trips dominate such a pass on PostgreSQL). Workloads reach
the executor only after the commit. A pass that journals nothing (it only
schedules and queues) commits without waiting for the WAL flush: see
:mod:`windvane.core.store.commit_mode` for why that is safe.

A scheduler alone among coordinated ones holds the solo lock
(:mod:`windvane.core.store.solo_lock`) on that kept connection, and then writes
*every* pass on it: a write can only succeed while the session holding the lock
lives, so a scheduler that lost its session (and the lock with it) cannot queue
beside one that took the lock over. A scheduler queueing within its slot leases
(:mod:`windvane.core.scheduler.leasing`) does the same on a session holding the solo lock *shared*:
a scheduler found dead has that session ended, so it cannot queue within a lease that was reclaimed.
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
from windvane.core.store import commit_mode, dag_runs, solo_lock, task_instances
from windvane.core.store.journal_sql import JOURNALED_TI_STATES, JournalBatch, JournalReason
from windvane.core.store.lease_sql import LeaseKey
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
        #: The solo lock is held on ``_auto_conn`` (see the module doc).
        self.solo = False
        #: The solo lock is held *shared* on ``_auto_conn``: the scheduler queues within ``lease``.
        self.leased = False
        #: Slots leased per limit (:mod:`~windvane.core.scheduler.leasing`), valid while ``leased``.
        self.lease: dict[LeaseKey, int] = {}

    @property
    def pinned(self) -> bool:
        """Every write goes through the kept session (it holds the solo lock, exclusive or shared)."""
        return self.solo or self.leased

    def commit(self, now: pendulum.DateTime, work: PassWork) -> None:
        if not work.has_writes:
            return
        grouped = group_states(work.states)
        queued_ids = [ti.ti_id for _, ti in work.queued]
        if only_queues(work, grouped, queued_ids):
            self._autocommit(lambda conn: task_instances.mark_queued(conn, queued_ids, self.job_id, now))
        elif self.pinned:
            self._solo_transaction(
                lambda conn: self._write(conn, now, work, grouped, queued_ids), flush=not unjournaled(work)
            )
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

    def _kept(self) -> Connection:
        if self._auto_conn is None:
            self._auto_conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            commit_mode.relax_session(self._auto_conn)
        return self._auto_conn

    def _drop_kept(self) -> None:
        """Forget the kept connection after an error: invalidated (never back to the pool with the
        relaxed commits or the solo lock; closing the session releases the lock)."""
        if self._auto_conn is not None:
            self._auto_conn.invalidate()
            self._auto_conn.close()
        self._auto_conn = None
        self.solo = False
        self.leased = False
        self.lease = {}

    def _autocommit(self, statement: Callable[[Connection], object]) -> None:
        """Run one statement on a kept autocommit connection (reconnecting once if it broke, unless
        it held the solo lock: then the lock is lost with it and the error goes up)."""
        for attempt in (1, 2):
            solo = self.pinned
            try:
                statement(self._kept())
                return
            except DBAPIError as exc:
                self._drop_kept()
                if solo or attempt == 2 or not exc.connection_invalidated:
                    raise

    def in_session(self, write: Callable[[Connection], None]) -> None:
        """``write`` in one transaction on the kept session (a lease re-balance), without waiting for
        the flush."""
        self._solo_transaction(write, flush=False)

    def _solo_transaction(self, write: Callable[[Connection], None], *, flush: bool) -> None:
        """``write`` in one transaction on the session holding the solo lock (an autocommit
        connection, so BEGIN and COMMIT are ours to send); ``flush``: the commit waits for the WAL
        flush (the session's commits do not otherwise, see ``commit_mode``)."""
        conn = self._kept()
        raw = conn.connection.dbapi_connection
        assert raw is not None
        try:
            raw.execute("BEGIN; SET LOCAL synchronous_commit = on" if flush else "BEGIN")
            write(conn)
            raw.execute("COMMIT")
        except BaseException:
            self._drop_kept()  # the rollback and the lock's release go with the session
            raise

    def take_solo(self) -> bool:
        """Try to take the solo lock on the kept connection; True when this scheduler holds it now."""
        if not self.solo:
            try:
                conn = self._kept()
                if not conn.connection.is_detached:
                    # Out of the pool: a session holding the lock must end with its connection, never
                    # be handed to another user of the pool (a scheduler dropped without close()).
                    conn.detach()
                self.solo = solo_lock.take(conn, self.job_id)
            except DBAPIError:
                self._drop_kept()
                raise
        return self.solo

    def take_leased(self) -> bool:
        """Try to take the solo lock shared on the kept connection (queueing within leases); True
        when held now. The lease starts empty: nothing is queued before a re-balance."""
        if not self.leased:
            try:
                conn = self._kept()
                if not conn.connection.is_detached:
                    conn.detach()  # as for the solo lock: the session must end with its connection
                self.leased = solo_lock.take_shared(conn, self.job_id)
                self.lease = {}
            except DBAPIError:
                self._drop_kept()
                raise
        return self.leased

    def leave_leased(self) -> None:
        """Stop queueing within leases and release the shared hold (a broken session: dropped)."""
        self.lease = {}
        self.leased = self._release_kept(self.leased, solo_lock.release_shared)

    def leave_solo(self) -> None:
        """Release the solo lock. If the session is broken (another scheduler that found this one
        dead ended it), the lock went with it: the session is dropped, nothing is raised."""
        self.solo = self._release_kept(self.solo, solo_lock.release)

    def _release_kept(self, held: bool, release: Callable[[Connection], object]) -> bool:
        """Release a session lock ``held`` on the kept connection; a session that broke is dropped
        (the lock went with it). Returns whether it is still held: never."""
        if held and self._auto_conn is not None:
            try:
                release(self._auto_conn)
            except DBAPIError:
                self._drop_kept()
        return False

    def close(self) -> None:
        if self._auto_conn is not None:
            try:
                if self.solo:
                    solo_lock.release(self._auto_conn)
                if self.leased:
                    solo_lock.release_shared(self._auto_conn)
                commit_mode.restore_session(self._auto_conn)
            except DBAPIError:
                self._auto_conn.invalidate()
            self._auto_conn.close()
            self._auto_conn = None
        self.solo = False
        self.leased = False
        self.lease = {}
