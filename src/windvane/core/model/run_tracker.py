"""Incremental readiness of one DAG run: the pure heart of scheduling.

A :class:`RunTracker` holds the state of every task instance of one run and,
for each task, counts of its direct upstreams' finished states. When a task
changes state only its direct downstreams are re-decided (with
:func:`windvane.core.model.trigger_rule.decide`), so the cost of a change is the
number of edges it touches, never the size of the run. Skips and
upstream_failed cascade inside one call.

The tracker decides; it does no I/O. Callers (the scheduler, ``dags test``)
persist the transitions it returns.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from windvane.core.model.states import DagRunState
from windvane.core.model.states import TaskInstanceState as S
from windvane.core.model.trigger_rule import Decision, TriggerRule, UpstreamCounts, decide

_FAILED_LEAF = frozenset({S.FAILED, S.UPSTREAM_FAILED})


class RunTracker:
    """Readiness bookkeeping for one run.

    :param upstream: task id -> direct upstream task ids (every task must be a key).
    :param rules: task id -> trigger rule.
    :param states: current state of each task instance (missing ones are ``NONE``).
    """

    __slots__ = ("_counts", "_downstream", "_finished", "_leaves", "_rules", "_states", "_upstream")

    def __init__(
        self,
        upstream: Mapping[str, Sequence[str]],
        rules: Mapping[str, TriggerRule],
        states: Mapping[str, S] | None = None,
    ) -> None:
        self._upstream = upstream
        self._rules = rules
        self._downstream: dict[str, list[str]] = {t: [] for t in upstream}
        for task_id, ups in upstream.items():
            for up in ups:
                self._downstream[up].append(task_id)
        self._leaves = [t for t, downs in self._downstream.items() if not downs]
        given = states or {}
        self._states: dict[str, S] = {t: given.get(t, S.NONE) for t in upstream}
        self._counts = {t: UpstreamCounts(total=len(ups)) for t, ups in upstream.items()}
        self._finished = 0
        for task_id, state in self._states.items():
            if state.finished:
                self._finished += 1
                for down in self._downstream[task_id]:
                    self._counts[down].add(state)

    # -- queries ---------------------------------------------------------
    def state(self, task_id: str) -> S:
        return self._states[task_id]

    @property
    def states(self) -> Mapping[str, S]:
        return self._states

    def counts(self, task_id: str) -> UpstreamCounts:
        return self._counts[task_id]

    @property
    def all_finished(self) -> bool:
        return self._finished == len(self._states)

    def run_state(self) -> DagRunState | None:
        """The run's final state once every task instance finished, else None.

        As in Airflow: failed if any leaf failed or is upstream_failed,
        otherwise success (leaves succeeded or were skipped).
        """
        if not self.all_finished:
            return None
        if any(self._states[leaf] in _FAILED_LEAF for leaf in self._leaves):
            return DagRunState.FAILED
        return DagRunState.SUCCESS

    # -- decisions -------------------------------------------------------
    def evaluate(self, task_ids: Iterable[str] | None = None) -> dict[str, S]:
        """Decide every (or the given) ``NONE`` task; return and apply the transitions.

        A task allowed to run moves to ``SCHEDULED``; one that must be skipped
        or is upstream_failed moves there at once, and its downstreams are
        decided in turn.
        """
        pending = list(self._states if task_ids is None else task_ids)
        return self._drain(pending)

    def set_state(self, task_id: str, state: S) -> dict[str, S]:
        """Record that ``task_id`` is now ``state``; return the transitions that follow."""
        self._apply(task_id, state)
        return self._drain(list(self._downstream[task_id]))

    def _apply(self, task_id: str, new: S) -> None:
        old = self._states[task_id]
        if old is new:
            return
        self._states[task_id] = new
        if old.finished:
            self._finished -= 1
        if new.finished:
            self._finished += 1
        for down in self._downstream[task_id]:
            counts = self._counts[down]
            counts.add(old, -1)
            counts.add(new)

    def _drain(self, pending: list[str]) -> dict[str, S]:
        changes: dict[str, S] = {}
        while pending:
            task_id = pending.pop()
            if self._states[task_id] is not S.NONE:
                continue
            decision = decide(self._rules[task_id], self._counts[task_id])
            if decision is Decision.WAIT:
                continue
            new = S.SCHEDULED if decision is Decision.RUN else decision.as_state()
            assert new is not None
            self._apply(task_id, new)
            changes[task_id] = new
            if new.finished:
                pending.extend(self._downstream[task_id])
        return changes


def descendants(downstream: Mapping[str, Sequence[str]], roots: Iterable[str]) -> list[str]:
    """Every task reachable downstream of ``roots`` (roots excluded), in BFS order."""
    seen: set[str] = set()
    order: list[str] = []
    frontier = list(roots)
    while frontier:
        nxt: list[str] = []
        for task_id in frontier:
            for down in downstream.get(task_id, ()):
                if down not in seen:
                    seen.add(down)
                    order.append(down)
                    nxt.append(down)
        frontier = nxt
    return order
