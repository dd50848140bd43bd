"""The scheduler loop: create runs, decide readiness, queue under limits, react to events.

Event-driven: the loop sleeps in :meth:`Executor.wait` and wakes as soon as a
try finishes, so a downstream task is queued within one pass. Each pass
applies executor events to per-run :class:`RunTracker` objects, so its cost
depends on what changed. All writes of one pass go in one transaction, and
workloads are handed to the executor only after it commits.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import pendulum
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError

from windvane.core.executors.base import Executor
from windvane.core.model.clock import Clock, SystemClock
from windvane.core.model.retries import retry_delay_for
from windvane.core.model.states import DagRunState
from windvane.core.model.states import TaskInstanceState as S
from windvane.core.model.workload import TaskEvent, Workload
from windvane.core.scheduler import db, polling
from windvane.core.scheduler.config import SchedulerConfig
from windvane.core.scheduler.model import ActiveRun, DagEntry, TiRecord
from windvane.core.scheduler.observer import LoopStats, PoolUsage, SchedulerObserver
from windvane.core.scheduler.queueing import Occupancy, ReadyItem, ReadyQueue
from windvane.core.scheduler.runs import RunCreator
from windvane.core.store import dag_runs, jobs, task_instances
from windvane.core.store.engine import begin_read
from windvane.core.store.journal_sql import JournalBatch, JournalReason
from windvane.core.store.sql_bridge import dbapi_tx

log = logging.getLogger("windvane.scheduler")


@dataclass
class _Pass:
    """Writes collected during one pass, committed together."""

    states: dict[int, S] = field(default_factory=dict)
    queued: list[tuple[ActiveRun, TiRecord]] = field(default_factory=list)
    finished_runs: list[tuple[ActiveRun, DagRunState]] = field(default_factory=list)
    gave_up: list[tuple[int, int, str, pendulum.DateTime | None]] = field(default_factory=list)
    gave_up_reason: str = ""
    stats: LoopStats = field(default_factory=LoopStats)

    @property
    def busy(self) -> bool:
        return bool(self.states or self.queued or self.finished_runs or self.stats.events)


class Scheduler:
    """Drives DAG runs to completion through an :class:`Executor`."""

    def __init__(
        self,
        *,
        engine: Engine,
        executor: Executor,
        config: SchedulerConfig | None = None,
        clock: Clock | None = None,
        observer: SchedulerObserver | None = None,
    ) -> None:
        self.engine = engine
        self.executor = executor
        self.config = config or SchedulerConfig()
        self.clock = clock or SystemClock()
        self.observer = observer or SchedulerObserver()
        self.job_id = 0
        self.runs: dict[int, ActiveRun] = {}
        self.dags: dict[str, DagEntry] = {}
        self.ready = ReadyQueue()
        self.occupancy = Occupancy()
        self.pool_capacity: dict[str, int] = {}
        self._retry_waiting: dict[int, tuple[ActiveRun, TiRecord]] = {}
        self._past_waiting: dict[int, tuple[ActiveRun, TiRecord]] = {}
        self._ours: set[int] = set()
        self._ti_run: dict[int, int] = {}
        self._auto_conn: Connection | None = None
        self._adopted: set[int] = set()
        self._next_poll = 0.0
        self._next_heartbeat = 0.0
        self._next_zombie_check = 0.0
        self._stop = threading.Event()
        self._creator = RunCreator(self)

    # -- lifecycle ---------------------------------------------------------
    def start(self) -> None:
        """Register the job, recover what a dead scheduler left, load active runs."""
        now = self.clock.now()
        with self.engine.begin() as conn:
            self.job_id = jobs.start_job(
                conn, "scheduler", hostname=socket.getfqdn(), pid=os.getpid(), now=now
            )
        self.executor.start()
        with self.engine.begin() as conn:
            live = self._live_job_ids(conn, now)
            reset = task_instances.reset_orphaned(conn, live, now)
            if reset:
                log.warning("reset %d queued task instance(s) left by stopped schedulers", reset)
        work = _Pass()
        polling.load_running_runs(self, work)
        self._poll(work)
        self._commit(now, work)

    def stop(self) -> None:
        self._stop.set()
        self.executor.wake()

    def run(self, *, until: Callable[[Scheduler], bool] | None = None, timeout: float | None = None) -> None:
        """Loop until :meth:`stop`, ``until(self)`` is true, or ``timeout`` seconds pass."""
        self.start()
        deadline = None if timeout is None else self.clock.monotonic() + timeout
        try:
            while not self._stop.is_set():
                busy = self.run_once()
                if until is not None and until(self):
                    break
                if deadline is not None and self.clock.monotonic() >= deadline:
                    break
                if not busy:
                    self.executor.wait(self._sleep_for())
        finally:
            self.shutdown()

    def shutdown(self, *, graceful: bool = True) -> None:
        self.executor.end(graceful=graceful)
        if self._auto_conn is not None:
            self._auto_conn.close()
            self._auto_conn = None
        if self.job_id:
            with self.engine.begin() as conn:
                jobs.finish_job(conn, self.job_id, now=self.clock.now())

    # -- one pass ------------------------------------------------------------
    def run_once(self) -> bool:
        """One pass of the loop; True when it did something (so the next pass runs at once)."""
        t0 = self.clock.monotonic()
        work = _Pass()
        for event in self.executor.events():
            self._on_event(event, work)
        mono = self.clock.monotonic()
        if mono >= self._next_poll:
            self._poll(work)
        now = self.clock.now()
        self._creator.create_due_runs(now, work)
        self._release_retries(now.timestamp(), work)
        self._check_run_timeouts(now, work)
        if mono >= self._next_zombie_check:
            self._next_zombie_check = mono + self.config.zombie_check_interval_seconds
            self._find_zombies(now, work)
        critical = self.clock.monotonic()
        self._select(work)
        self._commit(now, work)
        work.stats.critical_section = self.clock.monotonic() - critical
        if mono >= self._next_heartbeat:
            self._next_heartbeat = mono + self.config.heartbeat_seconds
            with self.engine.begin() as conn:
                jobs.heartbeat(conn, self.job_id, now)
            work.stats.heartbeat_at = now.timestamp()
        work.stats.duration = self.clock.monotonic() - t0
        work.stats.ready_waiting = len(self.ready)
        work.stats.active_runs = len(self.runs)
        work.stats.executor_open_slots = self.executor.open_slots
        work.stats.executor_queued = self.executor.queued_count
        work.stats.executor_running = self.executor.running_count
        if self.observer.wants_pool_usage:
            work.stats.pools = self._pool_usage(work.stats.starving_pools)
        self.observer.loop_finished(work.stats)
        return work.busy

    def _sleep_for(self) -> float:
        mono = self.clock.monotonic()
        deadline = min(self._next_poll, self._next_heartbeat, self._next_zombie_check)
        if self._retry_waiting:
            soonest = min(ti.next_retry_at or 0.0 for _, ti in self._retry_waiting.values())
            deadline = min(deadline, mono + max(0.0, soonest - self.clock.now().timestamp()))
        return max(0.0, min(self.config.idle_sleep_seconds, deadline - mono))

    # -- events ----------------------------------------------------------------
    def _on_event(self, event: TaskEvent, work: _Pass) -> None:
        work.stats.events += 1
        run = self.runs.get(event.dag_run_id)
        ti = run.by_id.get(event.ti_id) if run else None
        if run is None or ti is None:
            return
        if event.state == S.RUNNING.value:
            if ti.state is S.QUEUED:
                ti.state = S.RUNNING
                run.tracker.set_state(ti.task_id, S.RUNNING)
                self.observer.task_started(run, ti, event)
            return
        self._ours.discard(ti.ti_id)
        if ti.state in (S.QUEUED, S.RUNNING):
            self._release(run, ti)
        if event.state is None:
            # The claim failed: someone else changed the row. Re-read the run.
            self.observer.task_lost(run, ti, event)
            # Its slot was released above; the reload must not release it again.
            ti.state = S.NONE
            self._reload_runs([run.id], work)
            return
        state = S(event.state)
        ti.state = state
        if state is S.UP_FOR_RETRY:
            ti.next_retry_at = event.next_retry_at
            self._retry_waiting[ti.ti_id] = (run, ti)
        self.observer.task_finished(run, ti, event)
        work.stats.finished += 1
        self._apply(run, run.tracker.set_state(ti.task_id, state), work)
        for skipped in event.skipped_task_ids:
            other = run.tis.get(skipped)
            if other is not None and other.state in (S.NONE, S.SCHEDULED):
                self.ready.discard(other.ti_id)
                self._past_waiting.pop(other.ti_id, None)
                other.state = S.SKIPPED
                self._apply(run, run.tracker.set_state(skipped, S.SKIPPED), work)
        self._maybe_finish(run, work)

    def _release(self, run: ActiveRun, ti: TiRecord) -> None:
        spec = run.dag.tasks[ti.task_id]
        self.occupancy.release(run.dag_id, ti.task_id, spec.pool, spec.pool_slots)

    def _apply(self, run: ActiveRun, changes: dict[str, S], work: _Pass) -> None:
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
                    self._make_ready(run, ti)

    def _make_ready(self, run: ActiveRun, ti: TiRecord) -> None:
        self.observer.task_scheduled(run, ti)
        spec = run.dag.tasks[ti.task_id]
        if spec.depends_on_past and not self._past_ok(run, ti.task_id):
            self._past_waiting[ti.ti_id] = (run, ti)
            return
        self.ready.push(
            ReadyItem(
                run.sort_key(ti.task_id, ti.ti_id),
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
        if previous:
            state = max(previous, key=lambda r: r.logical_date).tis[task_id].state
        else:
            with begin_read(self.engine) as conn:
                found = db.previous_ti_state(conn, run.dag_id, task_id, run.logical_date)
            state = S(found) if found is not None else S.SUCCESS
        return state in (S.SUCCESS, S.SKIPPED)

    def _recheck_past(self) -> None:
        for ti_id, (run, ti) in list(self._past_waiting.items()):
            if ti.state is not S.SCHEDULED:
                del self._past_waiting[ti_id]
            elif self._past_ok(run, ti.task_id):
                del self._past_waiting[ti_id]
                self._make_ready(run, ti)

    def _maybe_finish(self, run: ActiveRun, work: _Pass) -> None:
        final = run.tracker.run_state()
        if final is not None and run.state is DagRunState.RUNNING:
            run.state = final
            work.finished_runs.append((run, final))

    # -- retries, timeouts, zombies ----------------------------------------------
    def _release_retries(self, now_ts: float, work: _Pass) -> None:
        if not self._retry_waiting:
            return
        for ti_id, (run, ti) in list(self._retry_waiting.items()):
            if ti.state is not S.UP_FOR_RETRY:
                del self._retry_waiting[ti_id]
            elif (ti.next_retry_at or 0.0) <= now_ts:
                del self._retry_waiting[ti_id]
                ti.state = S.SCHEDULED
                run.tracker.set_state(ti.task_id, S.SCHEDULED)
                work.states[ti_id] = S.SCHEDULED
                self._make_ready(run, ti)

    def _check_run_timeouts(self, now: pendulum.DateTime, work: _Pass) -> None:
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
                    if ti.state in (S.QUEUED, S.RUNNING) and ti.ti_id in self._ours:
                        self._release(run, ti)
                    if ti.state is not S.RUNNING:
                        ti.state = S.SKIPPED
                        work.states[ti.ti_id] = S.SKIPPED
            run.state = DagRunState.FAILED
            work.finished_runs.append((run, DagRunState.FAILED))

    def _find_zombies(self, now: pendulum.DateTime, work: _Pass) -> None:
        cutoff = now.subtract(seconds=self.config.task_heartbeat_timeout_seconds)
        with begin_read(self.engine) as conn:
            found = db.zombies(conn, cutoff)
        for z in found:
            retry = z.try_number <= z.max_tries
            state = S.UP_FOR_RETRY if retry else S.FAILED
            run = self.runs.get(z.dag_run_id)
            ti = run.by_id.get(z.ti_id) if run else None
            retry_at = None
            if retry and run is not None:
                spec = run.dag.tasks[z.task_id]
                delay = retry_delay_for(
                    z.try_number,
                    retry_delay=pendulum.duration(seconds=spec.retry_delay),
                    exponential_backoff=spec.retry_exponential_backoff,
                    max_retry_delay=None
                    if spec.max_retry_delay is None
                    else pendulum.duration(seconds=spec.max_retry_delay),
                )
                retry_at = now + delay
            work.gave_up.append((z.ti_id, z.try_number, state.value, retry_at))
            timeout = self.config.task_heartbeat_timeout_seconds
            work.gave_up_reason = f"no heartbeat for {timeout:g} s: the worker running it is gone"
            work.stats.zombies += 1
            self.observer.task_zombie(run, z.task_id)
            log.error(
                "task instance %s (try %d) is a zombie; marking %s", z.task_id, z.try_number, state.value
            )
            if run is not None and ti is not None:
                self._ours.discard(ti.ti_id)
                self._adopted.discard(ti.ti_id)
                self._release(run, ti)
                ti.state = state
                if retry:
                    ti.next_retry_at = retry_at.timestamp() if retry_at else None
                    self._retry_waiting[ti.ti_id] = (run, ti)
                self._apply(run, run.tracker.set_state(ti.task_id, state), work)
                self._maybe_finish(run, work)

    # -- queueing ------------------------------------------------------------------
    def _select(self, work: _Pass) -> None:
        if not len(self.ready):
            return
        open_slots = min(self.executor.open_slots, self.config.max_tis_per_query)
        if open_slots <= 0:
            work.stats.starving = len(self.ready)
            return
        selection = self.ready.select(
            open_slots=open_slots,
            pool_capacity=lambda pool: self.pool_capacity.get(pool, 0),
            dag_limit=self._dag_limit,
            occupancy=self.occupancy,
        )
        work.stats.starving_pools = selection.starving_pools
        work.stats.executable = len(selection.chosen)
        for item in selection.chosen:
            run = self.runs[self._run_of(item)]
            ti = run.by_id[item.ti_id]
            ti.state = S.QUEUED
            run.tracker.set_state(ti.task_id, S.QUEUED)
            work.queued.append((run, ti))
            work.states.pop(ti.ti_id, None)

    def _dag_limit(self, dag_id: str) -> int:
        entry = self.dags.get(dag_id)
        if entry is None or entry.is_paused:
            return 0
        return entry.dag.max_active_tasks

    def _run_of(self, item: ReadyItem) -> int:
        return self._ti_run[item.ti_id]

    # -- commit ------------------------------------------------------------------------
    def _commit(self, now: pendulum.DateTime, work: _Pass) -> None:
        if not (work.states or work.queued or work.finished_runs or work.gave_up or work.stats.runs_created):
            return
        grouped: dict[str, list[int]] = {}
        for ti_id, ti_state in work.states.items():
            grouped.setdefault(ti_state.value, []).append(ti_id)
        queued_ids = [ti.ti_id for _, ti in work.queued]
        if queued_ids and not (grouped or work.gave_up or work.finished_runs) and len(queued_ids) <= db.CHUNK:
            # The common pass only queues: one guarded UPDATE, atomic on its own, so it needs no
            # BEGIN/COMMIT round trips (they dominate a pass on PostgreSQL).
            self._autocommit(lambda conn: task_instances.mark_queued(conn, queued_ids, self.job_id, now))
        else:
            with self.engine.begin() as conn:
                journal = JournalBatch(now)
                if work.gave_up:
                    task_instances.fail_tries(conn, work.gave_up, work.gave_up_reason, now, journal)
                if grouped:
                    task_instances.set_states(conn, grouped, now, journal)
                if queued_ids:
                    task_instances.mark_queued(conn, queued_ids, self.job_id, now)
                for run, run_state in work.finished_runs:
                    timed_out = run.timeout_at is not None and now >= run.timeout_at
                    reason = None
                    if run_state is DagRunState.FAILED and timed_out:
                        task_instances.skip_unfinished(conn, run.id, now, journal)
                        reason = JournalReason.DAGRUN_TIMEOUT
                    dag_runs.finish_run(conn, run.id, run_state, now, journal, reason=reason)
                journal.write(dbapi_tx(conn))  # last: see windvane.core.store.journal_sql
        workloads: list[Workload] = []
        for run, ti in work.queued:
            ti.try_number += 1
            ti.queued_at = now.timestamp()
            self._ours.add(ti.ti_id)
            workloads.append(self._workload(run, ti))
            self.observer.task_queued(run, ti)
        for run, run_state in work.finished_runs:
            self._forget_run(run)
            self.observer.run_finished(run, run_state, now)
        for workload in workloads:
            self.executor.queue(workload)
        work.stats.queued = len(workloads)
        if work.finished_runs:
            self._recheck_past()

    def _autocommit(self, statement: Callable[[Connection], object]) -> None:
        """Run one statement on a kept autocommit connection (reconnecting once if it broke)."""
        for attempt in (1, 2):
            if self._auto_conn is None:
                self._auto_conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            try:
                statement(self._auto_conn)
                return
            except DBAPIError as exc:
                self._auto_conn.close()
                self._auto_conn = None
                if attempt == 2 or not exc.connection_invalidated:
                    raise

    def _workload(self, run: ActiveRun, ti: TiRecord) -> Workload:
        spec = run.dag.tasks[ti.task_id]
        return Workload(
            key=ti.key,
            try_number=ti.try_number,
            max_tries=ti.max_tries,
            job_id=self.job_id,
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

    # -- loading runs ------------------------------------------------------------------
    def _forget_run(self, run: ActiveRun) -> None:
        self.runs.pop(run.id, None)
        for ti in run.tis.values():
            self._ti_run.pop(ti.ti_id, None)
            self.ready.discard(ti.ti_id)
            self._retry_waiting.pop(ti.ti_id, None)
            self._past_waiting.pop(ti.ti_id, None)
            self._adopted.discard(ti.ti_id)

    def _poll(self, work: _Pass) -> None:
        """Re-read what other processes change: DAGs, pools, queued runs, adopted tries."""
        self._next_poll = self.clock.monotonic() + self.config.poll_interval_seconds
        polling.poll(self, work)

    def _reload_runs(self, run_pks: list[int], work: _Pass) -> None:
        with self.engine.begin() as conn:
            polling.load_runs(self, conn, dag_runs.get_runs(conn, run_pks), work)

    def _live_job_ids(self, conn: Connection, now: pendulum.DateTime) -> list[int]:
        cutoff = now.subtract(seconds=self.config.health_check_threshold_seconds)
        host = socket.getfqdn()
        live = []
        for job_id, hostname, pid in db.live_jobs(conn, "scheduler", cutoff):
            if hostname == host and pid is not None and job_id != self.job_id and not _pid_alive(pid):
                continue
            live.append(job_id)
        return live

    def recount_occupancy(self, rows: list[tuple[str, str, str, int, int]]) -> None:
        occ = Occupancy()
        for dag_id, task_id, pool, slots, count in rows:
            occ.pool_slots_used[pool] += slots
            occ.per_dag[dag_id] += count
            occ.per_task[(dag_id, task_id)] += count
        self.occupancy = occ

    def _pool_usage(self, starving_pools: set[str]) -> dict[str, PoolUsage]:
        """Every pool's slots over the tries this scheduler holds, and its starving ready TIs.

        Costs O(queued + running) per pass, plus O(active TIs) when a pool starves.
        """
        queued: Counter[str] = Counter(dict.fromkeys(self.pool_capacity, 0))
        running, starving = Counter(queued), Counter(queued)
        for ti_id in self._ours | self._adopted:
            run = self.runs.get(self._ti_run.get(ti_id, -1))
            ti = run.by_id.get(ti_id) if run is not None else None
            if run is None or ti is None or ti.state not in (S.QUEUED, S.RUNNING):
                continue
            spec = run.dag.tasks[ti.task_id]
            (running if ti.state is S.RUNNING else queued)[spec.pool] += spec.pool_slots
        if starving_pools:
            waiting = self._past_waiting
            for run in self.runs.values():
                for ti in run.tis.values():
                    pool = run.dag.tasks[ti.task_id].pool
                    if pool in starving_pools and ti.state is S.SCHEDULED and ti.ti_id not in waiting:
                        starving[pool] += 1
        return {
            pool: PoolUsage(self.pool_capacity.get(pool, 0), queued[pool], running[pool], starving[pool])
            for pool in sorted(queued.keys() | running.keys() | starving.keys())
        }

    def pool_snapshot(self) -> dict[str, tuple[int, int]]:
        """pool -> (capacity, slots used) from the current occupancy."""
        return {p: (cap, self.occupancy.pool_slots_used.get(p, 0)) for p, cap in self.pool_capacity.items()}


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
