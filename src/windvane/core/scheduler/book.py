"""The scheduler's book: what it holds in memory about the runs it drives, and every transition of it.

One :class:`Book` holds the active runs (with their readiness trackers), the ti
-> run index, the ready queue, slot occupancy and pool capacity, tries waiting
for a retry or for ``depends_on_past``, the tries this scheduler queued
(``ours``) and those it adopted from a stopped one. Its methods are the
transitions: apply an executor event, apply tracker changes, make a task ready,
release a slot, load a run from its rows, forget a run, release retries, time
out runs, give up on a zombie, choose what to queue. Each decision that must be
written goes into the pass's :class:`~windvane.core.scheduler.pass_work.PassWork`;
each lifecycle event goes to the :class:`~windvane.core.scheduler.announce.Announcer`.

The book does no I/O: the caller reads rows and writes the pass; the one fact
it may need from the database (a task's state in an earlier run that is not
loaded, for ``depends_on_past``) it asks through ``previous_state``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

import pendulum

from windvane.core.model import readiness
from windvane.core.model.serialized_dag import SerializedDag
from windvane.core.model.states import WAITING_STATES, DagRunState, DagRunType
from windvane.core.model.states import TaskInstanceState as S
from windvane.core.model.workload import TaskEvent, TaskInstanceKey
from windvane.core.scheduler.announce import Announcer
from windvane.core.scheduler.due_index import DueIndex
from windvane.core.scheduler.giving_up import announce_zombie, verdict
from windvane.core.scheduler.model import ActiveRun, DagEntry, TiRecord, build_run
from windvane.core.scheduler.pass_work import GaveUp, PassWork
from windvane.core.scheduler.queueing import Caps, Occupancy, ReadyItem, ReadyQueue, capped_limits

if TYPE_CHECKING:
    from windvane.core.scheduler import db
    from windvane.core.store import dag_runs

log = logging.getLogger("windvane.scheduler")

#: (dag_id, task_id, before logical date) -> that task's state in the DAG's latest earlier run, if any.
PreviousState = Callable[[str, str, datetime], str | None]
OCCUPYING = (S.QUEUED, S.RUNNING)


class Book:
    """The scheduler's in-memory state and its transitions (see the module doc)."""

    def __init__(self, announce: Announcer, previous_state: PreviousState) -> None:
        self.announce = announce
        self.previous_state = previous_state
        self.runs: dict[int, ActiveRun] = {}
        self.dags: dict[str, DagEntry] = {}
        #: The ``dag_change`` counter when :attr:`dags` was last read (None: never).
        self.dag_change_seq: int | None = None
        #: The DAGs of :attr:`dags` by when their next scheduled run falls due.
        self.due = DueIndex()
        self.ti_run: dict[int, int] = {}
        self.ready = ReadyQueue()
        self.occupancy = Occupancy()
        self.pool_capacity: dict[str, int] = {}
        self.retry_waiting: dict[int, tuple[ActiveRun, TiRecord]] = {}
        self.past_waiting: dict[int, tuple[ActiveRun, TiRecord]] = {}
        #: Tries this scheduler queued and has not seen finish.
        self.ours: set[int] = set()
        #: Queued/running tries found at load that this scheduler did not queue (polled until they end).
        self.adopted: set[int] = set()

    # -- queries -----------------------------------------------------------------------------------
    def find(self, ti_id: int) -> tuple[ActiveRun, TiRecord] | None:
        run = self.runs.get(self.ti_run.get(ti_id, -1))
        ti = run.by_id.get(ti_id) if run is not None else None
        return None if run is None or ti is None else (run, ti)

    def active_runs_per_dag(self, *, count_backfill: bool = True) -> dict[str, int]:
        active: dict[str, int] = {}
        for run in self.runs.values():
            if count_backfill or run.run_type != DagRunType.BACKFILL.value:
                active[run.dag_id] = active.get(run.dag_id, 0) + 1
        return active

    def dag_limit(self, dag_id: str) -> int:
        """How many tries of the DAG may be queued or running (0 while it is paused or unknown)."""
        entry = self.dags.get(dag_id)
        if entry is None:
            return 0
        return readiness.dag_task_limit(paused=entry.is_paused, max_active_tasks=entry.dag.max_active_tasks)

    def soonest_retry(self) -> float | None:
        """The earliest ``next_retry_at`` (Unix seconds) among tries waiting to retry or to be
        rescheduled."""
        if not self.retry_waiting:
            return None
        return min(ti.next_retry_at or 0.0 for _, ti in self.retry_waiting.values())

    # -- executor events ---------------------------------------------------------------------------
    def record(self, event: TaskEvent, work: PassWork) -> ActiveRun | None:
        """Apply what an executor reported. Returns the run to re-read when the try's claim failed."""
        work.stats.events += 1
        run = self.runs.get(event.dag_run_id)
        ti = run.by_id.get(event.ti_id) if run else None
        if run is None or ti is None:
            return None
        if event.try_number < ti.try_number:
            return None  # an earlier try's (one failed here past task_queued_timeout, claimed late)
        if event.state == S.RUNNING.value:
            if ti.state is S.QUEUED:
                ti.state = S.RUNNING
                ti.started_at = event.at
                run.tracker.set_state(ti.task_id, S.RUNNING)
                self.announce.try_started(run, ti)
            return None
        self.ours.discard(ti.ti_id)
        # An adopted try reported by our executor (a scheduler that rejoined after it was found dead
        # took its own run back): the event settles it, no poll may release its slot a second time.
        self.adopted.discard(ti.ti_id)
        if ti.state in OCCUPYING:
            self.release(run, ti)
        if event.state is None:
            # The claim failed: someone else changed the row. The caller re-reads the run.
            self.announce.try_lost(run, ti, event)
            # Its slot was released above; the reload must not release it again.
            ti.state = S.NONE
            return run
        state = S(event.state)
        ti.state = state
        if state in WAITING_STATES:
            ti.next_retry_at = event.next_retry_at
            self.retry_waiting[ti.ti_id] = (run, ti)
        if state is S.UP_FOR_RESCHEDULE:
            # The worker gave the try number back: the next queue takes the same one again.
            ti.try_number = event.try_number - 1
            ti.reschedules += 1
            self.announce.try_rescheduled(run, ti, event)
            run.tracker.set_state(ti.task_id, state)
            return None
        self.announce.try_finished(run, ti, event, state)
        work.stats.finished += 1
        self.apply(run, run.tracker.set_state(ti.task_id, state), work)
        for skipped in event.skipped_task_ids:
            other = run.tis.get(skipped)
            if other is not None and other.state in (S.NONE, S.SCHEDULED):
                self.ready.discard(other.ti_id)
                self.past_waiting.pop(other.ti_id, None)
                other.state = S.SKIPPED
                self.apply(run, run.tracker.set_state(skipped, S.SKIPPED), work)
        self.finish_if_done(run, work)
        return None

    # -- readiness ---------------------------------------------------------------------------------
    def apply(self, run: ActiveRun, changes: dict[str, S], work: PassWork) -> None:
        """Record tracker transitions: ready tasks go to the queue, others are written.

        A ready no-op task (EmptyOperator) succeeds here without an executor, as
        in Airflow; what that makes ready is handled in the same call.
        """
        pending = [changes]
        while pending:
            for task_id, state in pending.pop().items():
                ti = run.tis[task_id]
                ti.state = state
                work.states[ti.ti_id] = state
                if state is not S.SCHEDULED:
                    continue
                if run.dag.tasks[task_id].is_noop:
                    ti.state = S.SUCCESS
                    work.states[ti.ti_id] = S.SUCCESS
                    pending.append(run.tracker.set_state(task_id, S.SUCCESS))
                else:
                    self.make_ready(run, ti)

    def make_ready(self, run: ActiveRun, ti: TiRecord) -> None:
        """A scheduled task joins the ready queue (or waits for its previous run, ``depends_on_past``)."""
        self.announce.try_scheduled(run, ti)
        spec = run.dag.tasks[ti.task_id]
        if spec.depends_on_past and not self._past_ok(run, ti.task_id):
            self.past_waiting[ti.ti_id] = (run, ti)
            return
        self.ready.push(
            ReadyItem(
                run.sort_key(ti.task_id, ti.ti_id, ti.reschedules),
                ti.ti_id,
                run.dag_id,
                ti.task_id,
                spec.pool,
                spec.pool_slots,
                spec.max_active_tis_per_dag,
            )
        )

    def _past_ok(self, run: ActiveRun, task_id: str) -> bool:
        previous = [
            r
            for r in self.runs.values()
            if r.dag_id == run.dag_id and r.logical_date < run.logical_date and task_id in r.tis
        ]
        state: S | None
        if previous:
            state = max(previous, key=lambda r: r.logical_date).tis[task_id].state
        else:
            found = self.previous_state(run.dag_id, task_id, run.logical_date)
            state = S(found) if found is not None else None
        return readiness.past_allows(state)

    def recheck_past(self) -> None:
        """Tries waiting on ``depends_on_past`` whose previous run has now finished become ready."""
        for ti_id, (run, ti) in list(self.past_waiting.items()):
            if ti.state is not S.SCHEDULED:
                del self.past_waiting[ti_id]
            elif self._past_ok(run, ti.task_id):
                del self.past_waiting[ti_id]
                self.make_ready(run, ti)

    def finish_if_done(self, run: ActiveRun, work: PassWork) -> None:
        final = run.tracker.run_state()
        if final is not None and run.state is DagRunState.RUNNING:
            run.state = final
            work.finished_runs.append((run, final))

    # -- slots -------------------------------------------------------------------------------------
    def release(self, run: ActiveRun, ti: TiRecord) -> None:
        """Give back the slots a queued or running try held."""
        spec = run.dag.tasks[ti.task_id]
        self.occupancy.release(run.dag_id, ti.task_id, spec.pool, spec.pool_slots)

    def _account(self, run: ActiveRun, *, release: bool) -> None:
        for rec in run.tis.values():
            if rec.state in OCCUPYING:
                spec = run.dag.tasks[rec.task_id]
                if release:
                    self.occupancy.release(run.dag_id, rec.task_id, spec.pool, spec.pool_slots)
                else:
                    self.occupancy.pool_slots_used[spec.pool] += spec.pool_slots
                    self.occupancy.per_dag[run.dag_id] += 1
                    self.occupancy.per_task[(run.dag_id, rec.task_id)] += 1

    def select(
        self, open_slots: int, work: PassWork, *, occupancy: Occupancy | None = None, caps: Caps | None = None
    ) -> None:
        """Choose what to queue now under every limit; the chosen go into ``work.queued``.

        ``occupancy``: the slots every scheduler's tries hold, read from the database; the choice is
        made against it, and the book's own counts take the chosen too. ``caps``: slot leases."""
        if not len(self.ready):
            return
        if not readiness.executor_has_room(open_slots):
            work.stats.starving = len(self.ready)
            return
        pool_capacity, dag_limit, task_limit = capped_limits(self.pool_capacity, self.dag_limit, caps)
        selection = self.ready.select(
            open_slots=open_slots,
            pool_capacity=pool_capacity,
            dag_limit=dag_limit,
            occupancy=self.occupancy if occupancy is None else occupancy,
            task_limit=task_limit,
        )
        if occupancy is not None:
            for item in selection.chosen:
                self.occupancy.take(item)
        work.stats.starving_pools = selection.starving_pools
        work.stats.executable = len(selection.chosen)
        for item in selection.chosen:
            run = self.runs[self.ti_run[item.ti_id]]
            ti = run.by_id[item.ti_id]
            ti.state = S.QUEUED
            run.tracker.set_state(ti.task_id, S.QUEUED)
            work.queued.append((run, ti))
            work.states.pop(ti.ti_id, None)

    def mark_queued(self, run: ActiveRun, ti: TiRecord, now: datetime, now_ts: float) -> None:
        """The try's queueing was committed: it is the next try, and ours."""
        ti.try_number += 1
        ti.queued_at = now_ts
        ti.started_at = None
        self.ours.add(ti.ti_id)
        first, run.tried = not run.tried, True
        self.announce.try_queued(run, ti, now, first_of_run=first)

    # -- loading and forgetting runs ---------------------------------------------------------------
    def load_run(
        self,
        row: dag_runs.RunRow,
        dag: SerializedDag,
        tis: Sequence[db.TiRow],
        now: pendulum.DateTime,
        work: PassWork,
    ) -> ActiveRun:
        """Build a run from its rows (replacing any loaded copy) and schedule what is ready.

        Queued/running tries count against the limits; those this scheduler did not
        queue are adopted. Transitions go into ``work``.
        """
        old = self.runs.get(row.id)
        if old is not None:
            self._account(old, release=True)
            self.forget(old)
        run = build_run(row, dag, tis, now, replacing=old)
        for ti_id in run.by_id:
            self.ti_run[ti_id] = row.id
        self.runs[row.id] = run
        self._account(run, release=False)
        for rec in run.tis.values():
            if rec.state is S.SCHEDULED:
                self.make_ready(run, rec)
            elif rec.state in WAITING_STATES:
                self.retry_waiting[rec.ti_id] = (run, rec)
            elif rec.state in OCCUPYING and rec.ti_id not in self.ours:
                self.adopted.add(rec.ti_id)
        self.apply(run, run.tracker.evaluate(), work)
        self.finish_if_done(run, work)
        return run

    def forget(self, run: ActiveRun) -> None:
        """Drop a run and everything indexed by its task instances (its slots are the caller's)."""
        self.runs.pop(run.id, None)
        for ti in run.tis.values():
            self.ti_run.pop(ti.ti_id, None)
            self.ready.discard(ti.ti_id)
            self.retry_waiting.pop(ti.ti_id, None)
            self.past_waiting.pop(ti.ti_id, None)
            self.adopted.discard(ti.ti_id)

    def finish_run(self, run: ActiveRun, state: DagRunState, now: datetime) -> None:
        """The run's final state was committed: forget it."""
        self.forget(run)
        self.announce.run_finished(run, state, now)

    def replace_dags(self, fresh: dict[str, DagEntry], changed: set[str]) -> list[int]:
        """Take the DAGs as last read; return the loaded runs whose DAG structure changed (to reload)."""
        self.dags = fresh
        self.due.rebuild(fresh.values())
        return self._structure_changed(changed)

    def update_dags(self, fresh: dict[str, DagEntry], changed: set[str]) -> list[int]:
        """Take the DAG rows that changed since the last read (the others stand); return the loaded
        runs whose DAG structure changed (to reload)."""
        for dag_id, entry in fresh.items():
            self.dags[dag_id] = entry
            self.due.put(entry)
        return self._structure_changed(changed)

    def _structure_changed(self, changed: set[str]) -> list[int]:
        if not changed:
            return []
        fresh = self.dags
        return [
            run.id
            for run in self.runs.values()
            if run.dag_id in changed and run.dag.dag_hash != fresh[run.dag_id].dag.dag_hash
        ]

    # -- waits, timeouts, zombies, adopted tries ---------------------------------------------------
    def release_retries(self, now_ts: float, work: PassWork) -> None:
        """Tries whose ``next_retry_at`` (a retry's, or a sensor's reschedule date) passed are
        scheduled again."""
        if not self.retry_waiting:
            return
        for ti_id, (run, ti) in list(self.retry_waiting.items()):
            if ti.state not in WAITING_STATES:
                del self.retry_waiting[ti_id]
            elif readiness.retry_due(ti.next_retry_at, now_ts):
                del self.retry_waiting[ti_id]
                ti.state = S.SCHEDULED
                run.tracker.set_state(ti.task_id, S.SCHEDULED)
                work.states[ti_id] = S.SCHEDULED
                self.make_ready(run, ti)

    def time_out_runs(self, now: pendulum.DateTime, work: PassWork) -> None:
        """Runs past their ``dagrun_timeout`` fail; their unfinished tries not running are skipped."""
        for run in list(self.runs.values()):
            if run.dag.dagrun_timeout is None:
                continue
            timeout_at = run.timeout_at
            if timeout_at is None or now < timeout_at or run.state is not DagRunState.RUNNING:
                continue
            log.warning("run %s of DAG %r timed out (dagrun_timeout)", run.run_id, run.dag_id)
            for ti in run.tis.values():
                if ti.state.unfinished:
                    self.ready.discard(ti.ti_id)
                    if ti.state in OCCUPYING and ti.ti_id in self.ours:
                        self.release(run, ti)
                    if ti.state is not S.RUNNING:
                        ti.state = S.SKIPPED
                        work.states[ti.ti_id] = S.SKIPPED
            run.state = DagRunState.FAILED
            work.finished_runs.append((run, DagRunState.FAILED))

    def give_up(
        self,
        zombie: db.Zombie,
        key: TaskInstanceKey,
        now: pendulum.DateTime,
        reason: str,
        work: PassWork,
        *,
        queued: bool = False,
    ) -> None:
        """A running try stopped heartbeating: fail it, or set it up for retry when it has tries
        left. ``queued``: a try that stayed queued past ``task_queued_timeout`` was failed so
        already (:func:`~.giving_up.verdict` said how): the book follows."""
        state, retry_at = verdict(self.runs, zombie, now)
        retry = state is S.UP_FOR_RETRY
        run = self.runs.get(zombie.dag_run_id)
        ti = run.by_id.get(zombie.ti_id) if run else None
        if queued:
            work.stats.queued_timeouts += 1
            log.error(
                "task %r of run %r of DAG %r (try %d) %s; marked %s",
                key.task_id, key.run_id, key.dag_id, zombie.try_number, reason, state.value,
            )  # fmt: skip
            if ti is not None and (ti.try_number != zombie.try_number or ti.state not in OCCUPYING):
                return  # the book moved on since the row was read (an event of ours settled it)
        else:
            work.gave_up.append(GaveUp(zombie.ti_id, zombie.try_number, state.value, retry_at))
            work.gave_up_reason = reason
            work.stats.zombies += 1
            announce_zombie(self.announce, self.runs, self.dags, zombie, key, now, reason, state, retry_at)
        if run is not None and ti is not None:
            self.ours.discard(ti.ti_id)
            self.adopted.discard(ti.ti_id)
            self.release(run, ti)
            ti.state = state
            if retry:
                ti.next_retry_at = retry_at.timestamp() if retry_at else None
                self.retry_waiting[ti.ti_id] = (run, ti)
            self.apply(run, run.tracker.set_state(ti.task_id, state), work)
            self.finish_if_done(run, work)

    def sync_adopted(self, states: Mapping[int, tuple[str, int, float | None]], work: PassWork) -> None:
        """Adopted tries that ended (``states``: ti id -> (state, try, next_retry_at) as read) release
        their slots; one waiting for a retry or a reschedule waits here from now on."""
        for ti_id, (state, try_number, retry_at) in states.items():
            current = S(state)
            found = self.find(ti_id)
            if found is None or current in OCCUPYING or ti_id not in self.adopted:
                continue  # (not adopted any more: an event of ours settled it since it was read)
            run, ti = found
            self.adopted.discard(ti_id)
            self.release(run, ti)
            ti.state = current
            ti.try_number = try_number
            if current in WAITING_STATES:
                ti.next_retry_at = retry_at
                self.retry_waiting[ti_id] = (run, ti)
            self.apply(run, run.tracker.set_state(ti.task_id, current), work)
            self.finish_if_done(run, work)
