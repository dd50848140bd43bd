"""The scheduler loop: create runs, decide readiness, queue under limits, react to events.

Event-driven: the loop sleeps in :meth:`Executor.wait` and wakes as soon as a
try finishes, so a downstream task is queued within one pass. Each pass
applies executor events to per-run :class:`RunTracker` objects, so its cost
depends on what changed. All writes of one pass go in one transaction, and
workloads are handed to the executor only after it commits.
"""

from __future__ import annotations

import gc
import logging
import os
import socket
import threading
from collections.abc import Callable
from datetime import datetime

import pendulum
from sqlalchemy import Connection, Engine

from windvane.core.executors.base import Executor
from windvane.core.model.clock import Clock, SystemClock
from windvane.core.model.workload import TaskInstanceKey
from windvane.core.scheduler import db, leasing, polling
from windvane.core.scheduler.announce import Announcer
from windvane.core.scheduler.book import Book
from windvane.core.scheduler.commit import Committer
from windvane.core.scheduler.config import SchedulerConfig
from windvane.core.scheduler.coordination import Coordinator
from windvane.core.scheduler.loop_window import LoopWindow
from windvane.core.scheduler.model import ActiveRun, DagEntry
from windvane.core.scheduler.observer import SchedulerObserver
from windvane.core.scheduler.pass_work import PassWork
from windvane.core.scheduler.pool_usage import pool_usage
from windvane.core.scheduler.quarantine import Quarantine
from windvane.core.scheduler.queued_timeout import time_out_queued
from windvane.core.scheduler.runs import RunCreator
from windvane.core.store import dag_runs, jobs, run_owners, task_instances
from windvane.core.store.engine import begin_read
from windvane.core.store.outage import OutageGuard, is_transient

log = logging.getLogger("windvane.scheduler")


class Scheduler:
    """Drives DAG runs to completion through an :class:`Executor`.

    The in-memory state lives in :attr:`book` (:class:`~windvane.core.scheduler.book.Book`);
    this class runs the passes: it reads what changed, lets the book decide, and
    commits each pass through a :class:`~windvane.core.scheduler.commit.Committer`.
    """

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
        self.book = Book(Announcer(self.observer, self.clock), previous_state=self._previous_state)
        self._writer = Committer(engine, executor, self.book)
        self.quarantine = Quarantine(engine, self.observer)
        #: Several schedulers share the database (``config.coordinated``): see ``coordination.py``.
        self.coordinator = Coordinator(self.config) if self.config.coordinated else None
        self._creator = RunCreator(engine, self.book, self.config, self.quarantine, self.coordinator)
        self._next_poll = 0.0
        self._next_heartbeat = 0.0
        self._next_zombie_check = 0.0
        self._next_take_over = 0.0
        self._next_pool_usage = float("-inf")
        self._stop = threading.Event()
        self._outage = OutageGuard("scheduler", max_outage_seconds=self.config.max_outage_seconds)
        #: A pass failed on the database: the book may hold what was never written; rebuild it.
        self._stale = False
        self._executor_started = False
        self._postgres = engine.dialect.name == "postgresql"
        #: Recent pass durations; their p95 goes to the job row with each heartbeat.
        self.loop_window = LoopWindow()

    @property
    def job_id(self) -> int:
        """This scheduler's row in ``job`` (0 until :meth:`start`)."""
        return self._writer.job_id

    @property
    def runs(self) -> dict[int, ActiveRun]:
        """The runs this scheduler drives, by row id."""
        return self.book.runs

    @property
    def dags(self) -> dict[str, DagEntry]:
        """The DAGs as last read, by id."""
        return self.book.dags

    # -- lifecycle ---------------------------------------------------------
    def start(self) -> None:
        """Register the job, recover what a dead scheduler left, load active runs.

        Safe to call again after it failed on the database (:meth:`run` does, riding out an
        outage at start): the job and the executor are started once."""
        if not self._executor_started:  # first: its warm-up must not eat into the job's heartbeats
            self.executor.start()
            self._executor_started = True
        now = self.clock.now()
        if not self._writer.job_id:
            self._register(now)
        with self.engine.begin() as conn:
            if self.coordinator is None:
                reset = task_instances.reset_orphaned(conn, self._live_job_ids(conn, now), now)
            else:
                self.coordinator.recover(conn, now)
                reset = run_owners.reset_queued_of_ended(conn, now)
            if reset:
                log.warning("reset %d queued task instance(s) left by stopped schedulers", reset)
        work = PassWork()
        polling.load_running_runs(
            self.engine, self.book, self.config, self.clock, work, self.quarantine, self.coordinator
        )
        self._poll(work)
        self._writer.commit(now, work)
        self.quarantine.flush()

    def _register(self, now: pendulum.DateTime) -> None:
        with self.engine.begin() as conn:
            self._writer.job_id = jobs.start_job(
                conn, "scheduler", hostname=socket.getfqdn(), pid=os.getpid(), now=now
            )
        if self.coordinator is not None:
            self.coordinator.job_id = self._writer.job_id

    def _rejoin(self, now: pendulum.DateTime) -> None:
        """Another scheduler found this one dead (it stalled past the heartbeat threshold) and took
        its runs: register as a new job and rebuild the book from the runs it may drive now. Tries
        already handed to the executor are not lost: their claims fail if they were reset, and
        those running finish and are recorded; their runs' new owner reads them."""
        old = self.job_id
        self._register(now)
        log.error(
            "scheduler job %d was found dead by another scheduler (no heartbeat for %g s) and its runs "
            "were taken over; rejoining as job %d",
            old,
            self.config.health_check_threshold_seconds,
            self.job_id,
        )
        self._rebuild()

    def stop(self) -> None:
        self._stop.set()
        self.executor.wake()

    def run(self, *, until: Callable[[Scheduler], bool] | None = None, timeout: float | None = None) -> None:
        """Loop until :meth:`stop`, ``until(self)`` is true, or ``timeout`` seconds pass.

        A start that fails on a transient database error is retried like a pass (below)."""
        while True:
            try:
                self.start()
                break
            except Exception as exc:
                if not is_transient(exc):
                    if self._executor_started:
                        self.shutdown()
                    raise
                self._ride_out(exc)
                self._fresh_book()
                if self._stop.is_set():
                    self.shutdown()
                    return
        self._stale = False
        self._outage_over()
        deadline = None if timeout is None else self.clock.monotonic() + timeout
        # The heap held at start-up (modules, settings, the executor, the engine) lives as long as the
        # scheduler: frozen, the collections of the run (the metrics' new series, the runs' records)
        # skip it instead of walking it on every full one. Unfrozen at the end, unless someone
        # else froze it (as the DAG processor's pool does).
        freeze = gc.get_freeze_count() == 0
        if freeze:
            gc.freeze()
        try:
            while not self._stop.is_set():
                try:
                    if self._stale:
                        self._rebuild()
                    busy = self.run_once()
                except Exception as exc:
                    if not is_transient(exc):
                        raise
                    self._ride_out(exc)
                    continue
                self._outage_over()
                if until is not None and until(self):
                    break
                if deadline is not None and self.clock.monotonic() >= deadline:
                    break
                if not busy:
                    self.executor.wait(self._sleep_for())
        finally:
            try:
                self.shutdown()
            finally:
                if freeze:
                    gc.unfreeze()

    def shutdown(self, *, graceful: bool = True) -> None:
        self.executor.end(graceful=graceful)
        self._writer.close()
        if self.job_id:
            with self.engine.begin() as conn:
                jobs.finish_job(conn, self.job_id, now=self.clock.now())
        self.observer.scheduler_stopped()

    # -- database outages ----------------------------------------------------
    def _ride_out(self, error: Exception) -> None:
        """A pass failed on a transient database error: log, count, pause (backoff), and rebuild the
        in-memory book from the database before the next pass (as a restart would)."""
        pause = self._outage.failed(error)  # raises DatabaseOutageError past the allowed outage
        log.warning(
            "database error in a scheduler pass (%s: %s); retrying in %.1f s",
            type(error).__name__,
            str(error).strip().splitlines()[0] if str(error).strip() else "",
            pause,
        )
        self.observer.database_error("scheduler")
        self._stale = True
        self._stop.wait(pause)

    def _outage_over(self) -> None:
        lasted = self._outage.succeeded()
        if lasted is not None:
            log.warning("the database is back after %.1f s; the scheduler goes on", lasted)

    def _rebuild(self) -> None:
        """Forget the in-memory state and load it again from the database (runs, tries adopted)."""
        self._fresh_book()
        work = PassWork()
        polling.load_running_runs(
            self.engine, self.book, self.config, self.clock, work, self.quarantine, self.coordinator
        )
        self._poll(work)
        self._writer.commit(self.clock.now(), work)
        self._stale = False

    def _fresh_book(self) -> None:
        """An empty book (and the parts holding it); the job stays. The solo lock is given up (the
        next poll takes it again, with counts from the new book)."""
        job_id = self._writer.job_id
        self._writer.close()
        self.book = Book(Announcer(self.observer, self.clock), previous_state=self._previous_state)
        self._writer = Committer(self.engine, self.executor, self.book)
        self._writer.job_id = job_id
        self._creator = RunCreator(self.engine, self.book, self.config, self.quarantine, self.coordinator)
        self._next_poll = 0.0
        self._next_take_over = 0.0

    # -- one pass ------------------------------------------------------------
    def run_once(self) -> bool:
        """One pass of the loop; True when it did something (so the next pass runs at once)."""
        t0 = self.clock.monotonic()
        book, work = self.book, PassWork()
        for event in self.executor.events():
            lost = book.record(event, work)
            if lost is not None:
                self._reload_runs([lost.id], work)
        worker_errors = self.executor.take_db_errors()
        if worker_errors:
            self.observer.worker_database_errors(worker_errors)
        retired = self.executor.take_try_host_retirements()
        if retired:
            self.observer.try_hosts_retired(retired)
        mono = self.clock.monotonic()
        if mono >= self._next_poll:
            self._poll(work)
        now = self.clock.now()
        self._creator.create_due_runs(now, self.job_id, work)
        book.release_retries(now.timestamp(), work)
        book.time_out_runs(now, work)
        if mono >= self._next_zombie_check:
            self._next_zombie_check = mono + self.config.zombie_check_interval_seconds
            self._find_zombies(now, work)
            owner = None if self.coordinator is None else self.job_id
            time_out_queued(self.engine, self.book, self.config.task_queued_timeout_seconds, now, work, owner)
        critical = self.clock.monotonic()
        open_slots = min(self.executor.open_slots, self.config.max_tis_per_query)
        coordinator, writer = self.coordinator, self._writer
        if coordinator is not None and self._postgres and not writer.solo:
            self._queue_leased(coordinator, critical, open_slots, now, work)
        elif coordinator is not None and not writer.solo and len(book.ready) and open_slots > 0:
            writer.commit_with(now, work, lambda conn: coordinator.select(conn, book, open_slots, work))
        else:
            if len(book.ready):
                occupancy = None if coordinator is None else coordinator.solo_occupancy(book)
                book.select(open_slots, work, occupancy=occupancy)
            self._writer.commit(now, work)
        work.stats.critical_section = self.clock.monotonic() - critical
        self.quarantine.flush()
        if mono >= self._next_heartbeat:
            self._next_heartbeat = mono + self.config.heartbeat_seconds
            window = self.loop_window
            with self.engine.begin() as conn:
                state = jobs.heartbeat(
                    conn, self.job_id, now, loop_p95_seconds=window.p95(), loop_samples=len(window)
                )
            work.stats.heartbeat_at = now.timestamp()
            if self.coordinator is not None and state is not jobs.JobState.RUNNING:
                self._rejoin(now)
        self._finish_stats(work, t0)
        self.loop_window.add(work.stats.duration)
        self.observer.loop_finished(work.stats)
        return work.busy

    def _queue_leased(
        self, coordinator: Coordinator, mono: float, open_slots: int, now: pendulum.DateTime, work: PassWork
    ) -> None:
        """Several schedulers on PostgreSQL: queue within this scheduler's slot leases, re-balanced
        when due (``leasing``); nothing while a scheduler alone still holds the solo lock."""
        book, writer = self.book, self._writer
        if writer.leased:
            if coordinator.leaser.due(mono, book, writer):
                coordinator.leaser.rebalance(book, writer, mono)
        elif len(book.ready) and open_slots > 0:
            coordinator.lease(book, writer, mono)
        if writer.leased and len(book.ready):
            book.select(open_slots, work, caps=leasing.caps(writer))
        writer.commit(now, work)

    def _finish_stats(self, work: PassWork, t0: float) -> None:
        stats = work.stats
        stats.duration = self.clock.monotonic() - t0
        stats.ready_waiting = len(self.book.ready)
        stats.active_runs = len(self.book.runs)
        stats.executor_open_slots = self.executor.open_slots
        stats.executor_queued = self.executor.queued_count
        stats.executor_running = self.executor.running_count
        if self.observer.wants_pool_usage:
            mono = self.clock.monotonic()
            if mono >= self._next_pool_usage:
                self._next_pool_usage = mono + self.observer.pool_usage_every
                stats.pools = pool_usage(self.book, stats.starving_pools)

    def _sleep_for(self) -> float:
        mono = self.clock.monotonic()
        deadline = min(self._next_poll, self._next_heartbeat, self._next_zombie_check)
        if self.coordinator is not None and self._writer.leased and len(self.book.ready):
            # Ready tries wait for a lease: the next re-balance may grow it.
            deadline = min(deadline, self.coordinator.leaser.next_review)
        soonest = self.book.soonest_retry()
        if soonest is not None:
            deadline = min(deadline, mono + max(0.0, soonest - self.clock.now().timestamp()))
        return max(0.0, min(self.config.idle_sleep_seconds, deadline - mono))

    # -- reading the database --------------------------------------------------
    def _poll(self, work: PassWork) -> None:
        """Re-read what other processes change: DAGs, pools, queued runs, adopted tries."""
        mono = self.clock.monotonic()
        self._next_poll = mono + self.config.poll_interval_seconds
        # Dead schedulers are looked for once a heartbeat interval, not every poll (three statements).
        take_over = mono >= self._next_take_over
        if take_over:
            self._next_take_over = mono + self.config.heartbeat_seconds
        polling.poll(
            self.engine, self.book, self.config, self.clock, work, self.quarantine, self.coordinator,
            take_over=take_over,
        )  # fmt: skip
        if self.coordinator is not None and self.job_id:
            with begin_read(self.engine) as conn:
                self.coordinator.review_solo(conn, self._writer, self.book, self.clock.monotonic())

    def _reload_runs(self, run_pks: list[int], work: PassWork) -> None:
        with self.engine.begin() as conn:
            polling.load_runs(conn, self.book, dag_runs.get_runs(conn, run_pks), self.clock.now(), work)

    def _previous_state(self, dag_id: str, task_id: str, before: datetime) -> str | None:
        with begin_read(self.engine) as conn:
            return db.previous_ti_state(conn, dag_id, task_id, before)

    def _find_zombies(self, now: pendulum.DateTime, work: PassWork) -> None:
        cutoff = now.subtract(seconds=self.config.task_heartbeat_timeout_seconds)
        with begin_read(self.engine) as conn:
            found = db.zombies(conn, cutoff, owner=None if self.coordinator is None else self.job_id)
            unloaded = sorted({z.dag_run_id for z in found if z.dag_run_id not in self.book.runs})
            names = (
                {r.id: (r.dag_id, r.run_id) for r in dag_runs.get_runs(conn, unloaded)} if unloaded else {}
            )
        timeout = self.config.task_heartbeat_timeout_seconds
        reason = f"no heartbeat for {timeout:g} s: the worker running it is gone"
        for z in found:
            run = self.book.runs.get(z.dag_run_id)
            dag_id, run_id = (run.dag_id, run.run_id) if run else names.get(z.dag_run_id, ("unknown", ""))
            key = TaskInstanceKey(z.ti_id, z.dag_run_id, dag_id, run_id, z.task_id)
            self.book.give_up(z, key, now, reason, work)

    def _live_job_ids(self, conn: Connection, now: pendulum.DateTime) -> list[int]:
        cutoff = now.subtract(seconds=self.config.health_check_threshold_seconds)
        host = socket.getfqdn()
        live = []
        for job_id, hostname, pid in db.live_jobs(conn, "scheduler", cutoff):
            if hostname == host and pid is not None and job_id != self.job_id and not _pid_alive(pid):
                continue
            live.append(job_id)
        return live


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
