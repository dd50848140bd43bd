"""Which ready task instances to queue now, under every limit (pure).

Inputs are counts the scheduler keeps in memory; the output is an ordered
list. Order is Airflow's: higher effective ``priority_weight`` first, then
older logical date, then creation order. Limits: executor open slots (bounded
by ``parallelism``), pool slots (a TI takes ``pool_slots``), the DAG's
``max_active_tasks`` and the task's ``max_active_tis_per_dag`` — all counted
over queued + running task instances.

Ready TIs are kept in one heap per (DAG, pool), so a DAG at its limit or a
full pool is skipped in O(1) and the cost of a pass depends on what gets
queued, not on how many TIs wait.
"""

from __future__ import annotations

import heapq
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from windvane.core.model import readiness


@dataclass(order=True, slots=True)
class ReadyItem:
    sort_key: tuple[int, float, int, int]
    ti_id: int = field(compare=False)
    dag_id: str = field(compare=False)
    task_id: str = field(compare=False)
    pool: str = field(compare=False)
    pool_slots: int = field(compare=False)
    max_active_tis_per_dag: int | None = field(compare=False)


@dataclass
class Occupancy:
    """Queued + running counts the limits are checked against."""

    pool_slots_used: Counter[str] = field(default_factory=Counter)
    per_dag: Counter[str] = field(default_factory=Counter)
    per_task: Counter[tuple[str, str]] = field(default_factory=Counter)

    def take(self, item: ReadyItem) -> None:
        self.pool_slots_used[item.pool] += item.pool_slots
        self.per_dag[item.dag_id] += 1
        self.per_task[(item.dag_id, item.task_id)] += 1

    def release(self, dag_id: str, task_id: str, pool: str, pool_slots: int) -> None:
        self.pool_slots_used[pool] -= pool_slots
        self.per_dag[dag_id] -= 1
        self.per_task[(dag_id, task_id)] -= 1


@dataclass(frozen=True)
class Caps:
    """What one scheduler may fill of each limit, below the limit itself (its slot leases, see
    :mod:`~windvane.core.scheduler.leasing`): pool slots, a DAG's task instances, a task's."""

    pool: Callable[[str], int]
    dag: Callable[[str], int]
    task: Callable[[str, str], int]


def capped_limits(
    capacity: Mapping[str, int], dag_limit: Callable[[str], int], caps: Caps | None
) -> tuple[Callable[[str], int], Callable[[str], int], Callable[[ReadyItem], int | None] | None]:
    """The pool, DAG and task limits :meth:`ReadyQueue.select` checks: the limits themselves, each
    capped by ``caps`` when given."""
    if caps is None:
        return (lambda pool: capacity.get(pool, 0)), dag_limit, None

    def task_limit(item: ReadyItem) -> int | None:
        limit = item.max_active_tis_per_dag
        return None if limit is None else min(limit, caps.task(item.dag_id, item.task_id))

    return (
        lambda pool: min(capacity.get(pool, 0), caps.pool(pool)),
        lambda dag_id: min(dag_limit(dag_id), caps.dag(dag_id)),
        task_limit,
    )


@dataclass
class Selection:
    chosen: list[ReadyItem]
    #: Pools whose slots ran out while TIs still waited for them (Airflow's "starving").
    starving_pools: set[str]
    #: TIs that were ready but could not be queued for any limit.
    blocked: int


HeapKey = tuple[str, str]


class ReadyQueue:
    """Ready (scheduled, not yet queued) task instances, one priority heap per (DAG, pool)."""

    def __init__(self) -> None:
        self._heaps: dict[HeapKey, list[ReadyItem]] = defaultdict(list)
        #: ti id -> its one live entry; heap entries that are not it (discarded, or pushed again) are stale.
        self._live: dict[int, ReadyItem] = {}
        self._size = 0
        #: (DAG, task) of every TI pushed with a ``max_active_tis_per_dag`` (never shrinks: a superset).
        self.limited_tasks: set[tuple[str, str]] = set()

    def __len__(self) -> int:
        """Entries in the heaps (stale ones count until they reach a heap's top)."""
        return self._size

    def push(self, item: ReadyItem) -> None:
        """Add a ready TI; pushing one already queued here replaces its entry (it is chosen once)."""
        self._live[item.ti_id] = item
        heapq.heappush(self._heaps[(item.dag_id, item.pool)], item)
        self._size += 1
        if item.max_active_tis_per_dag is not None:
            self.limited_tasks.add((item.dag_id, item.task_id))

    def dag_ids(self) -> set[str]:
        """DAGs with entries in the heaps (stale ones included)."""
        return {dag_id for (dag_id, _), heap in self._heaps.items() if heap}

    def pools(self) -> set[str]:
        """Pools with entries in the heaps (stale ones included): the only ones a pass can queue into."""
        return {pool for (_, pool), heap in self._heaps.items() if heap}

    def waiting(self) -> dict[HeapKey, tuple[int, int]]:
        """Per (DAG, pool): entries in its heap (stale ones included) and the pool slots of its top."""
        return {key: (len(heap), heap[0].pool_slots) for key, heap in self._heaps.items() if heap}

    def discard(self, ti_id: int) -> None:
        """Forget a TI lazily (its entry is dropped when it reaches a heap's top)."""
        self._live.pop(ti_id, None)

    def select(
        self,
        *,
        open_slots: int,
        pool_capacity: Callable[[str], int],
        dag_limit: Callable[[str], int],
        occupancy: Occupancy,
        task_limit: Callable[[ReadyItem], int | None] | None = None,
    ) -> Selection:
        """Pop and return what may be queued now, taking the slots in ``occupancy``; ``task_limit``:
        a task's limit when not its ``max_active_tis_per_dag``."""
        chosen: list[ReadyItem] = []
        starving: set[str] = set()
        deferred: list[ReadyItem] = []
        # Bound the work per pass when many ready TIs are blocked by a per-task limit.
        budget = open_slots * 2 + 64
        tops: list[tuple[tuple[int, float, int, int], HeapKey]] = []
        for key, heap in self._heaps.items():
            self._trim(heap)
            if heap:
                tops.append((heap[0].sort_key, key))
        heapq.heapify(tops)
        while tops and len(chosen) < open_slots and budget > 0:
            _, key = heapq.heappop(tops)
            dag_id, pool = key
            heap = self._heaps[key]
            if not readiness.dag_has_room(occupancy.per_dag[dag_id], dag_limit(dag_id)):
                continue
            top = heap[0]
            if not readiness.pool_has_room(
                top.pool_slots, pool_capacity(pool), occupancy.pool_slots_used[pool]
            ):
                starving.add(pool)
                continue
            budget -= 1
            item = heapq.heappop(heap)
            del self._live[item.ti_id]
            self._size -= 1
            limit = item.max_active_tis_per_dag if task_limit is None else task_limit(item)
            if not readiness.task_has_room(occupancy.per_task[(dag_id, item.task_id)], limit):
                deferred.append(item)
            else:
                occupancy.take(item)
                chosen.append(item)
            self._trim(heap)
            if heap:
                heapq.heappush(tops, (heap[0].sort_key, key))
        for item in deferred:
            self.push(item)
        return Selection(chosen=chosen, starving_pools=starving, blocked=self._size)

    def _trim(self, heap: list[ReadyItem]) -> None:
        live = self._live
        while heap and live.get(heap[0].ti_id) is not heap[0]:
            heapq.heappop(heap)
            self._size -= 1
