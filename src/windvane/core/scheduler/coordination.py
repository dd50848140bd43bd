"""Several schedulers on one PostgreSQL database: what each does so that they never step on each other.

Used when :attr:`SchedulerConfig.coordinated` is on (the CLI turns it on for PostgreSQL):

- **Runs have one driver.** A scheduler loads only the runs it owns (``dag_run.scheduled_by_job_id``,
  :mod:`windvane.core.store.run_owners`): those it created or started, and those it claimed
  (``FOR UPDATE SKIP LOCKED``) because nobody owned them or their owner is gone. Its in-memory book
  therefore stays valid: nobody else changes what it decides.
- **Dead schedulers are noticed** once every ``heartbeat_seconds`` (and at start): a scheduler job
  whose heartbeat is older than
  ``health_check_threshold_seconds`` (or whose pid is gone, on this host) is marked ``failed`` by
  whichever scheduler sees it first; its queued tries go back to scheduled (no worker can claim them
  any more) and its runs are claimed by the survivors, who adopt its running tries (they end on
  their own, or the zombie sweep fails them after ``task_heartbeat_timeout_seconds``).
- **Limits hold globally.** Pool slots, ``max_active_tasks`` and ``max_active_tis_per_dag`` are
  counted over every scheduler's queued and running tries, read inside one critical section (a
  PostgreSQL advisory lock held to the commit) that also writes the pass's queueing. Runs are
  started under ``max_active_runs`` counted over all running runs, under a lock of their own, and a
  DAG's next scheduled run is created by the one scheduler that locked its row.
- **A scheduler alone skips the critical section.** One that sees no other live scheduler job (once
  per poll) takes the solo lock (:mod:`windvane.core.store.solo_lock`) and queues as an uncoordinated
  scheduler does, against its counts in memory plus what tries of runs it does not drive held when
  it took the lock (read again each poll while not zero: they can only finish while it holds the
  lock, so that figure only errs high). It
  releases the lock once it sees a second live scheduler; the others queue nothing until then.
- **Several schedulers queue within slot leases.** One that is not alone holds the solo lock shared
  and a lease of each global limit it queues into, re-balanced under the queueing lock at polls and
  every ``leasing.REVIEW_SECONDS``; between re-balances it queues without a lock
  (:mod:`windvane.core.scheduler.leasing`). On SQLite (one scheduler) the critical section remains.
- **Work spreads.** A scheduler starts queued runs up to its equal share of all running and waiting
  runs (at least one per poll), so two schedulers drive about half the runs each.
"""

from __future__ import annotations

import logging
import math
import os
import socket
from collections import Counter

import pendulum
from sqlalchemy import Connection

from windvane.core.model import readiness
from windvane.core.model.states import DagRunType
from windvane.core.scheduler.book import Book
from windvane.core.scheduler.commit import Committer
from windvane.core.scheduler.config import SchedulerConfig
from windvane.core.scheduler.leasing import Leaser
from windvane.core.scheduler.model import DagEntry
from windvane.core.scheduler.pass_work import PassWork
from windvane.core.scheduler.queueing import Occupancy
from windvane.core.store import lease_sql, occupancy_sql, run_owners, solo_lock
from windvane.core.store.dag_runs import utc
from windvane.core.store.raw_sql import POSTGRESQL
from windvane.core.store.sql_bridge import dbapi_tx

log = logging.getLogger("windvane.scheduler")


def pid_alive(pid: int) -> bool:
    """A process with this pid exists on this host (one we may not signal counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


#: Polls in a row a scheduler past its share leaves queued runs waiting before it starts one anyway.
PATIENCE_POLLS = 3


def share(waiting: int, live_schedulers: int, *, running: int = 0, mine: int = 0, passed: int = 0) -> int:
    """How many of ``waiting`` queued runs one of ``live_schedulers`` starts in one poll: up to its
    equal share of all runs (``running`` everywhere, ``mine`` of them its own). Past its share, one
    after ``passed`` polls that left runs waiting reach :data:`PATIENCE_POLLS`, so that the runs
    always move even when another scheduler does not take its share (it is busy, or a backfill's)."""
    fair = math.ceil((running + waiting) / max(1, live_schedulers)) - mine
    if fair > 0:
        return fair
    return 1 if passed >= PATIENCE_POLLS else 0


def foreign(conn: Connection, book: Book) -> Occupancy:
    """What queued and running tries of runs ``book`` does not drive hold (read with the solo lock
    held: nobody can add to it, so it only errs high until read again)."""
    pools, per_dag, per_task = occupancy_sql.count_outside(conn, book.runs.keys())
    return Occupancy(Counter(pools), Counter(per_dag), Counter(per_task))


def _held(occupancy: Occupancy) -> bool:
    return bool(occupancy.pool_slots_used or occupancy.per_dag or occupancy.per_task)


class Coordinator:
    """One scheduler's side of sharing the database with others (see the module doc)."""

    def __init__(self, config: SchedulerConfig, *, hostname: str | None = None) -> None:
        self.config = config
        self.hostname = hostname or socket.getfqdn()
        self.job_id = 0
        #: Scheduler jobs alive when queued runs were last started, this one included.
        self.live_schedulers = 1
        #: Polls in a row that left queued runs to the others (see :func:`share`).
        self.passed = 0
        #: While solo: what tries of runs this scheduler does not drive held when it took the solo
        #: lock (or last looked); empty when nothing.
        self.foreign = Occupancy()
        #: The slot leases this scheduler holds while several schedulers run (``leasing``).
        self.leaser = Leaser()

    def budget(self, conn: Connection, waiting: int, running: int, mine: int) -> int:
        """How many queued runs to start in this poll (:func:`share`), the live schedulers counted now."""
        self.live_schedulers = max(1, run_owners.live_jobs(conn, "scheduler"))
        budget = share(waiting, self.live_schedulers, running=running, mine=mine, passed=self.passed)
        self.passed = self.passed + 1 if budget < waiting else 0
        return budget

    def recover(self, conn: Connection, now: pendulum.DateTime) -> list[int]:
        """Mark dead scheduler jobs failed and send their queued tries back to scheduled; the jobs
        this call found dead."""
        cutoff = now.subtract(seconds=self.config.health_check_threshold_seconds)
        dead = run_owners.reap_dead(
            conn, self.job_id, cutoff, hostname=self.hostname, pid_alive=pid_alive, now=now
        )
        if dead:
            solo_lock.end_sessions_of(conn, dead)
            if conn.dialect.name == POSTGRESQL:
                lease_sql.drop(dbapi_tx(conn), dead)
            reset = run_owners.reset_queued_of(conn, dead, now)
            log.warning(
                "scheduler job(s) %s stopped heartbeating: marked failed, %d queued task instance(s) "
                "back to scheduled, their runs taken over",
                ", ".join(map(str, dead)),
                reset,
            )
        return dead

    def review_solo(self, conn: Connection, committer: Committer, book: Book, mono: float = 0.0) -> None:
        """Once a poll: take the solo lock when this is the only live scheduler, release it when it
        is not, and then queue within slot leases, re-balanced now (module doc). ``conn``: a
        connection for reads, not the committer's."""
        if conn.dialect.name != POSTGRESQL:
            return
        live = run_owners.live_job_ids(conn, "scheduler")
        alone = live == [self.job_id]
        if alone and committer.leased:
            committer.leave_leased()
        if committer.solo and not alone:
            committer.leave_solo()
            self.foreign = Occupancy()
            log.info("another scheduler is running: queueing within slot leases from now on")
            self.lease(book, committer, mono)
        elif committer.solo and _held(self.foreign):
            self.foreign = foreign(conn, book)
        elif not alone:
            self.foreign = Occupancy()
            self.lease(book, committer, mono)
        elif committer.take_solo():
            # READ COMMITTED: this count's snapshot is taken now, with the lock held, so it sees every
            # queueing committed before (a coordinated one holds the lock shared until its commit).
            self.foreign = foreign(conn, book)
            log.info("no other scheduler is running: queueing without the queueing lock (solo lock held)")
        elif not committer.solo:
            self.foreign = Occupancy()

    def lease(self, book: Book, committer: Committer, mono: float) -> bool:
        """Queue within slot leases: take the solo lock shared if not yet held (False when a
        scheduler alone still holds it), and re-balance now."""
        if not committer.leased and not committer.take_leased():
            return False
        self.leaser.rebalance(book, committer, mono)
        return True

    def solo_occupancy(self, book: Book) -> Occupancy | None:
        """While solo: what the limits are checked against, when not the book's own counts alone."""
        if not _held(self.foreign):
            return None
        mine, other = book.occupancy, self.foreign
        return Occupancy(
            mine.pool_slots_used + other.pool_slots_used,
            mine.per_dag + other.per_dag,
            mine.per_task + other.per_task,
        )

    def claim(self, conn: Connection) -> list[int]:
        """Take the running runs nobody alive drives (not those already ours); their ids."""
        only = self.config.only_runs
        return run_owners.claim_runs(
            conn,
            self.job_id,
            run_types=self.config.run_types if only is None else None,
            run_pks=only,
        )

    def select(self, conn: Connection, book: Book, open_slots: int, work: PassWork) -> None:
        """The critical section: lock, read what every scheduler's tries hold (one round trip,
        :func:`~windvane.core.store.occupancy_sql.lock_and_count`), choose within it.

        The caller writes the chosen tries in the same transaction, so the lock covers the
        queueing too."""
        ready = book.ready
        counted = occupancy_sql.queue_section(
            conn,
            run_owners.QUEUE_LOCK_KEY,
            solo_lock.SOLO_LOCK_KEY,
            ready.pools(),
            ready.dag_ids(),
            ready.limited_tasks,
        )
        if counted is None:  # a scheduler that was alone still holds the solo lock: it sees us soon
            return
        pools, per_dag, per_task = counted
        occupancy = Occupancy(Counter(pools), Counter(per_dag), Counter(per_task))
        book.select(open_slots, work, occupancy=occupancy)

    def may_create(self, conn: Connection, entry: DagEntry) -> bool:
        """Lock the DAG's row to create its next run: False when another scheduler holds it, has
        created that run already (the row's next run moved on; ``entry`` takes the row's values),
        or the DAG has ``max_active_runs`` runs running over every scheduler."""
        row = run_owners.lock_dag_for_creation(conn, entry.dag_id)
        if row is None:
            return False
        logical, start, end, create_after = (utc(v) for v in row)
        if logical != entry.next_logical_date:
            entry.next_logical_date, entry.next_interval_start = logical, start
            entry.next_interval_end, entry.next_create_after = end, create_after
            return False
        run_owners.lock(conn, run_owners.START_LOCK_KEY)
        active = run_owners.active_runs_per_dag(conn, [DagRunType.SCHEDULED.value, DagRunType.MANUAL.value])
        return readiness.runs_have_room(active.get(entry.dag_id, 0), entry.dag.max_active_runs)
