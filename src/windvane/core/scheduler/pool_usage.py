"""A snapshot of every pool over the tries the scheduler's book holds (for observers that ask for it)."""

from __future__ import annotations

from collections import Counter

from windvane.core.model.states import TaskInstanceState as S
from windvane.core.scheduler.book import OCCUPYING, Book
from windvane.core.scheduler.observer import PoolUsage


def pool_usage(book: Book, starving_pools: set[str]) -> dict[str, PoolUsage]:
    """Every pool's slots over the tries ``book`` holds (ours and adopted), and its starving ready TIs.

    Costs O(queued + running) per pass, plus O(active TIs) when a pool starves.
    """
    queued: Counter[str] = Counter(dict.fromkeys(book.pool_capacity, 0))
    running, starving = Counter(queued), Counter(queued)
    for ti_id in book.ours | book.adopted:
        found = book.find(ti_id)
        if found is None or found[1].state not in OCCUPYING:
            continue
        run, ti = found
        spec = run.dag.tasks[ti.task_id]
        (running if ti.state is S.RUNNING else queued)[spec.pool] += spec.pool_slots
    if starving_pools:
        waiting = book.past_waiting
        for run in book.runs.values():
            for ti in run.tis.values():
                pool = run.dag.tasks[ti.task_id].pool
                if pool in starving_pools and ti.state is S.SCHEDULED and ti.ti_id not in waiting:
                    starving[pool] += 1
    return {
        pool: PoolUsage(book.pool_capacity.get(pool, 0), queued[pool], running[pool], starving[pool])
        for pool in sorted(queued.keys() | running.keys() | starving.keys())
    }
