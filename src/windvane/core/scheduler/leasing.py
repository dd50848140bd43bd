"""Slot leases: several schedulers on one PostgreSQL database queue without a lock between re-balances.

A coordinated scheduler that is not alone holds the solo lock *shared* on its kept session
(:meth:`Committer.take_leased`; no scheduler can be solo meanwhile) and a **lease** of each global
limit it queues into: pool slots, a DAG's ``max_active_tasks``, a task's ``max_active_tis_per_dag``
(where set), recorded in ``scheduler_lease``. Between re-balances it queues as a scheduler alone
does, against its book's own counts with each limit capped by its lease: no lock, no count, a
queue-only pass is one autocommit ``UPDATE``.

A **re-balance** is one transaction on the kept session, under the queueing lock: read the other
live schedulers' leases and what every scheduler's runs hold, compute this scheduler's lease of each
limit it has demand for (:func:`~windvane.core.scheduler.lease_grant.grant`: its fair share, never
more than the others' claims leave), write it, commit; only then does it queue within it. It runs at
every poll, and between polls every :data:`REVIEW_SECONDS` while the scheduler has ready tries or
holds a lease (:data:`CATCH_UP_SECONDS` after one that granted less than the fair share, so a
lease grows as soon as the others have given slots back). Only the holder changes its lease, so a
lease shrinks only once its holder stopped queueing beyond it, and slots not yet given back still
count in its claim. A scheduler found dead has its session ended (``solo_lock.end_sessions_of``) and
its rows ignored and deleted: its lease is free once its tries are.
"""

from __future__ import annotations

from collections import Counter

from sqlalchemy import Connection

from windvane.core.scheduler.book import Book
from windvane.core.scheduler.commit import Committer
from windvane.core.scheduler.lease_grant import Claim, fair_target, grant
from windvane.core.scheduler.queueing import Caps
from windvane.core.store import lease_sql, run_owners
from windvane.core.store.lease_sql import DAG, POOL, TASK, LeaseKey
from windvane.core.store.sql_bridge import dbapi_tx

#: Seconds between re-balances while a scheduler has ready tries or holds a lease.
REVIEW_SECONDS = 0.25
#: ... after a re-balance that granted less than the fair share somewhere.
CATCH_UP_SECONDS = 0.02

#: key -> (limit, demand)
Wants = dict[LeaseKey, tuple[int, int]]


def wants(book: Book) -> Wants:
    """Every limit this scheduler has ready tries for, with its size and this scheduler's demand
    (its tries in flight plus those ready, at most the limit)."""
    pool_ready: Counter[str] = Counter()
    dag_ready: Counter[str] = Counter()
    for (dag_id, pool), (count, slots) in book.ready.waiting().items():
        pool_ready[pool] += count * slots
        dag_ready[dag_id] += count
    used = book.occupancy
    out: Wants = {}
    for pool, ready in pool_ready.items():
        limit = book.pool_capacity.get(pool, 0)
        out[(POOL, pool, "")] = (limit, min(limit, used.pool_slots_used[pool] + ready))
    for dag_id, ready in dag_ready.items():
        limit = book.dag_limit(dag_id)
        out[(DAG, dag_id, "")] = (limit, min(limit, used.per_dag[dag_id] + ready))
    for dag_id, task_id in book.ready.limited_tasks:
        entry = book.dags.get(dag_id)
        spec = None if entry is None else entry.dag.tasks.get(task_id)
        if spec is None or spec.max_active_tis_per_dag is None or not dag_ready[dag_id]:
            continue
        limit = spec.max_active_tis_per_dag
        demand = used.per_task[(dag_id, task_id)] + dag_ready[dag_id]
        out[(TASK, dag_id, task_id)] = (limit, min(limit, demand))
    return out


def decide(
    me: int, want: Wants, leases: lease_sql.Leases, usage: lease_sql.Usage
) -> tuple[dict[LeaseKey, tuple[int, int]], bool]:
    """This scheduler's new leases (key -> (lease, demand)) from the others' leases and everyone's
    usage; and whether any was granted less than its fair target (re-balance again soon)."""
    owners = (set(leases) | set(usage)) - {me}
    held: dict[LeaseKey, tuple[int, int]] = {}
    short = False
    for key, (limit, demand) in want.items():
        others = []
        for owner in owners:
            lease, asked = (0, 0) if owner is None else leases.get(owner, {}).get(key, (0, 0))
            used = usage.get(owner, {}).get(key, 0)
            if lease or used or asked:
                others.append(Claim(lease, used, asked))
        slots = grant(limit, demand, others)
        short = short or slots < fair_target(limit, demand, [c.demand for c in others])
        held[key] = (slots, demand)
    return held, short


class Leaser:
    """One scheduler's leases: when to re-balance, the re-balance itself, and the caps they give."""

    def __init__(self) -> None:
        self.next_review = float("-inf")
        #: Re-balances so far (observers and tests read it).
        self.reviews = 0
        #: This job may have lease rows in the database (written with some, not yet emptied).
        self.recorded = True

    def due(self, mono: float, book: Book, committer: Committer) -> bool:
        """A re-balance is due between polls: the interval passed and there is something to lease
        or to give back."""
        return mono >= self.next_review and (bool(len(book.ready)) or self.recorded)

    def rebalance(self, book: Book, committer: Committer, mono: float) -> None:
        """Re-balance on the kept session (see the module doc); the committer's lease is the new one
        once it has committed."""
        want = wants(book)
        me = committer.job_id
        result: list[tuple[dict[LeaseKey, tuple[int, int]], bool, bool]] = []

        def write(conn: Connection) -> None:
            tx = dbapi_tx(conn)
            leases, usage = lease_sql.lock_and_read(tx, run_owners.QUEUE_LOCK_KEY, me, want.keys())
            held, short = decide(me, want, leases, usage)
            rows = {k: v for k, v in held.items() if v[0] or v[1]}
            lease_sql.write(tx, me, rows)
            result.append((held, short, bool(rows)))

        if not want and not self.recorded:
            committer.lease = {}
            self.next_review = mono + REVIEW_SECONDS
            return
        committer.in_session(write)
        held, short, self.recorded = result[0]
        committer.lease = {key: slots for key, (slots, _) in held.items() if slots}
        self.reviews += 1
        self.next_review = mono + (CATCH_UP_SECONDS if short else REVIEW_SECONDS)


def caps(committer: Committer) -> Caps:
    """Each limit capped by this scheduler's lease (nothing leased: nothing may be queued)."""
    lease = committer.lease
    return Caps(
        pool=lambda pool: lease.get((POOL, pool, ""), 0),
        dag=lambda dag_id: lease.get((DAG, dag_id, ""), 0),
        task=lambda dag_id, task_id: lease.get((TASK, dag_id, task_id), 0),
    )
