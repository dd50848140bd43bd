"""``windvane dags test``: one whole DAG run in this process, no scheduler, no database.

Uses the same pieces as the real runtime — :class:`RunTracker` for readiness
(trigger rules, skips, upstream_failed) and :func:`run_try` for each try — so
what passes here behaves the same under the scheduler. Tasks run one at a time
in priority order; XComs live in memory; a retry runs again at once (the
retry delay is reported, not waited for).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pendulum

from windvane.core.authoring.dag import DAG
from windvane.core.model.run_tracker import RunTracker
from windvane.core.model.states import DagRunState, DagRunType
from windvane.core.model.states import TaskInstanceState as S
from windvane.core.task_api.context import RunInfo, build_context, params_for_run
from windvane.core.task_api.task_instance import RuntimeTaskInstance
from windvane.core.timetables.ops import interval_for
from windvane.core.worker.execution import run_try
from windvane.core.worker.inputs import jinja_env_for


@dataclass
class TaskResult:
    task_id: str
    state: S
    tries: int = 0
    duration: float = 0.0
    error: str | None = None


@dataclass
class DagTestResult:
    dag_id: str
    run_id: str
    state: DagRunState
    tasks: dict[str, TaskResult] = field(default_factory=dict)
    xcoms: dict[tuple[str, str], str] = field(default_factory=dict)


class _MemoryXComs:
    def __init__(self, store: dict[tuple[str, str], str]) -> None:
        self.store = store

    def get(self, *, dag_id: str, run_id: str, task_id: str, key: str) -> str | None:
        return self.store.get((task_id, key))


def test_dag(
    dag: DAG,
    *,
    logical_date: pendulum.DateTime | None = None,
    conf: dict[str, Any] | None = None,
    now: pendulum.DateTime | None = None,
    on_task_done: Callable[[TaskResult], None] | None = None,
) -> DagTestResult:
    """Run every task of one run of ``dag`` to a final state and return what happened."""
    now = now or pendulum.now("UTC")
    logical = (logical_date or now).in_timezone("UTC")
    interval = interval_for(dag.timetable, logical, None)
    run_id = DagRunType.MANUAL.run_id(logical.isoformat())
    run = RunInfo(
        dag_id=dag.dag_id,
        run_id=run_id,
        run_type=DagRunType.MANUAL.value,
        logical_date=logical,
        data_interval_start=interval.start,
        data_interval_end=interval.end,
        conf=conf or {},
        start_date=now,
    )
    env = jinja_env_for(dag)
    weights = dag.priority_weights()
    order = {t.task_id: i for i, t in enumerate(dag.topological_sort())}
    tracker = RunTracker(dag.upstream_map(), {t.task_id: t.trigger_rule for t in dag.tasks})
    xcoms: dict[tuple[str, str], str] = {}
    result = DagTestResult(dag.dag_id, run_id, DagRunState.RUNNING)
    results = {t: TaskResult(t, S.NONE) for t in dag.task_ids}
    tracker.evaluate()
    while True:
        ready = [t for t, s in tracker.states.items() if s is S.SCHEDULED]
        if not ready:
            break
        task_id = min(ready, key=lambda t: (-weights[t], order[t]))
        task = dag.get_task(task_id)
        res = results[task_id]
        state = S.UP_FOR_RETRY
        while state is S.UP_FOR_RETRY:
            res.tries += 1
            ti = RuntimeTaskInstance(
                dag_id=dag.dag_id,
                task_id=task_id,
                run_id=run_id,
                try_number=res.tries,
                max_tries=task.retries,
                reader=_MemoryXComs(xcoms),
            )
            params = params_for_run(dag.params, task.params, run.conf)
            context = build_context(run=run, dag=dag, task=task, ti=ti, params=params)
            started = time.perf_counter()
            outcome = run_try(task, context, jinja_env=env)
            res.duration += time.perf_counter() - started
            state, res.error = outcome.state, outcome.error
            for key, text in outcome.xcoms.items():
                xcoms[(task_id, key)] = text
        res.state = state
        tracker.set_state(task_id, state)
        for skipped in outcome.skip_task_ids:
            if tracker.state(skipped) in (S.NONE, S.SCHEDULED):
                tracker.set_state(skipped, S.SKIPPED)
        if on_task_done is not None:
            on_task_done(res)
    for task_id, state in tracker.states.items():
        if results[task_id].state is S.NONE:
            results[task_id].state = state
    result.tasks = results
    result.xcoms = xcoms
    result.state = tracker.run_state() or DagRunState.FAILED
    return result


test_dag.__test__ = False  # type: ignore[attr-defined]  # not a pytest test despite its name
