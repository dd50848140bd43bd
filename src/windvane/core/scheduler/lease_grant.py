"""How many slots of one global limit a scheduler may lease now (pure; no I/O).

Several schedulers on one PostgreSQL database (:mod:`windvane.core.scheduler.leasing`) each hold a
*lease* of every global limit they queue into (a pool's slots, a DAG's ``max_active_tasks``, a
task's ``max_active_tis_per_dag``) and queue within it without a lock. A scheduler changes only its
own lease, under the queueing lock, from what the others hold:

* another scheduler's **claim** on the limit is the larger of its lease and its tries in flight
  (queued + running): it never holds more tries than its lease, except tries it holds already
  (adopted, or a lease shrunk below them), which only finish; so its claim bounds what it can hold
  until it changes its lease;
* tries of runs no lease holder drives (a backfill's, a departed scheduler's) are a claim too;
* the new lease is at most ``limit - sum(claims)``: so the sum of all claims stays within the limit
  whenever anyone queues, whatever order the schedulers re-balance in;
* and at most the scheduler's **fair target**: a max-min fair share of the limit over every
  scheduler's demand (its tries in flight plus those ready), so a busy scheduler shrinks its lease
  for a newcomer at its next re-balance, and gives back what it no longer needs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Claim:
    """Another holder's hold on one limit: its lease, its tries in flight, and what it asked for."""

    lease: int = 0
    usage: int = 0
    demand: int = 0

    @property
    def held(self) -> int:
        """What it may hold until it re-balances: its lease, or more if it holds more already."""
        return max(self.lease, self.usage)


def fair_target(limit: int, demand: int, others: Sequence[int]) -> int:
    """This scheduler's max-min fair share of ``limit`` when it wants ``demand`` and the others
    want ``others``: a demand within the fair level is met whole, the rest share what is left
    equally (rounded up: the claims, not the target, keep the sum within the limit)."""
    if demand <= 0 or limit <= 0:
        return 0
    left, n = limit, 1 + sum(1 for d in others if d > 0)
    for d in sorted(d for d in others if d > 0):
        if d * n > left:
            break
        left, n = left - d, n - 1
    return min(demand, -(-left // n))


def grant(limit: int, demand: int, others: Sequence[Claim]) -> int:
    """The lease to hold now (see the module doc): never negative, never above ``demand``, its fair
    target, or what the others' claims leave of ``limit``."""
    free = limit - sum(c.held for c in others)
    target = fair_target(limit, demand, [c.demand for c in others])
    return max(0, min(target, free))
