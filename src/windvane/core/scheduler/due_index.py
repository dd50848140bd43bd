"""The DAGs by when their next scheduled run may be created: a heap, so a pass looks only at the due.

Scanning every DAG each pass to find the few whose ``next_dagrun_create_after`` passed made an
idle scheduler's cost grow with the number of DAGs. :class:`DueIndex` holds one heap item per
DAG that can get a scheduled run (active, unpaused, with a next run), keyed by that time; a pass
pops only the items that are due. It is updated when a DAG entry is read or changed
(:meth:`DueIndex.put`), never rebuilt per pass.

Deletion is lazy: an item whose DAG is gone, changed (paused, deactivated, a new next run) or was
put again is dropped when it reaches the top. :meth:`DueIndex.due` checks each popped item
against the DAG entries it is given, so an entry removed from them without telling the index
(a quarantined DAG) is never returned.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping

from windvane.core.scheduler.model import DagEntry

#: Rebuild the heap once stale items outnumber live ones by this factor (plus a floor).
_COMPACT_FACTOR = 2
_COMPACT_FLOOR = 1024


def due_at(entry: DagEntry) -> float | None:
    """When ``entry``'s next scheduled run may be created (Unix seconds), or None if it gets none."""
    if not entry.is_active or entry.is_paused or entry.next_create_after is None:
        return None
    return entry.next_create_after.timestamp()


class DueIndex:
    """DAG ids on a heap by :func:`due_at` (see the module doc)."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, str]] = []
        #: dag_id -> its live item's time (an item with another time is stale).
        self._at: dict[str, float] = {}

    def __len__(self) -> int:
        return len(self._at)

    def put(self, entry: DagEntry) -> None:
        """Index ``entry`` as it is now (or take it out if it gets no scheduled run)."""
        at = due_at(entry)
        if at is None:
            self._at.pop(entry.dag_id, None)
            return
        if self._at.get(entry.dag_id) == at:
            return
        self._at[entry.dag_id] = at
        heapq.heappush(self._heap, (at, entry.dag_id))
        if len(self._heap) > _COMPACT_FACTOR * len(self._at) + _COMPACT_FLOOR:
            self._compact()

    def discard(self, dag_id: str) -> None:
        self._at.pop(dag_id, None)

    def rebuild(self, entries: Iterable[DagEntry]) -> None:
        """Index exactly ``entries`` (after a whole re-read of the DAG rows)."""
        self._at = {e.dag_id: at for e in entries if (at := due_at(e)) is not None}
        self._compact()

    def due(self, now_ts: float, dags: Mapping[str, DagEntry]) -> list[DagEntry]:
        """The entries of ``dags`` due at ``now_ts``, the longest due first. They stay indexed:
        a due DAG whose run is not created this pass (``max_active_runs``) is due again next pass."""
        heap, live = self._heap, self._at
        popped: list[tuple[float, str]] = []
        out: list[DagEntry] = []
        while heap and heap[0][0] <= now_ts:
            item = heapq.heappop(heap)
            at, dag_id = item
            if live.get(dag_id) != at:
                continue  # stale: the DAG was put again, taken out, or this is a duplicate
            entry = dags.get(dag_id)
            if entry is None or due_at(entry) != at:
                live.pop(dag_id, None)  # gone or changed behind the index's back
                continue
            popped.append(item)
            out.append(entry)
            del live[dag_id]  # a duplicate item further down is now stale
        for at, dag_id in popped:
            live[dag_id] = at
            heapq.heappush(heap, (at, dag_id))
        return out

    def _compact(self) -> None:
        self._heap = [(at, dag_id) for dag_id, at in self._at.items()]
        heapq.heapify(self._heap)
