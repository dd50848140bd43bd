"""One whole DAG run in this process: no scheduler, no executor, no database.

:func:`run_dag_in_process` is what ``windvane dags test`` runs, and what tests
use (re-exported by :mod:`windvane.testing`) to run a DAG end to end. It uses
the same pieces as the real runtime — :class:`RunTracker` for readiness
(trigger rules, skips, upstream_failed) and :func:`run_try` for each try — so
what passes here behaves the same under the scheduler. Tasks run one at a
time, highest priority weight first, then in dependency order; XComs live in a
:class:`MemoryXComs`; a retry runs again at once (the retry delay is reported,
not waited for); a reschedule-mode sensor's next poke is waited for (:class:`Reschedules`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pendulum

from windvane.core.authoring.baseoperator import BaseOperator
from windvane.core.authoring.dag import DAG
from windvane.core.model import json_values
from windvane.core.model.outcome import TryOutcome
from windvane.core.model.run_tracker import RunTracker
from windvane.core.model.states import WAITING_STATES, DagRunState, DagRunType
from windvane.core.model.states import TaskInstanceState as S
from windvane.core.task_api.context import RunInfo, build_context, params_for_run
from windvane.core.task_api.task_instance import XCOM_RETURN_KEY, RuntimeTaskInstance
from windvane.core.task_api.templating import ConnectionGetter, VariableGetter
from windvane.core.worker.execution import run_try
from windvane.core.worker.inputs import jinja_env_for
from windvane.core.worker.task_callbacks import DEFAULT_CALLBACK_TIMEOUT
from windvane.errors import DagDefinitionError


class MemoryXComs:
    """XComs of one run held in memory: ``(task_id, key) -> serialized JSON text``.

    It is the :class:`~windvane.core.task_api.task_instance.XComReader` the
    run's task instances pull from, and reads like a mapping
    (``xcoms["extract", "return_value"]``) of the stored texts.
    """

    def __init__(self) -> None:
        self.values: dict[tuple[str, str], str] = {}

    def get(self, *, dag_id: str, run_id: str, task_id: str, key: str) -> str | None:
        """The stored text (any DAG and run: the store holds a single run)."""
        return self.values.get((task_id, key))

    def store(self, task_id: str, pushed: dict[str, str]) -> None:
        """Keep the texts a try of ``task_id`` pushed (``key -> text``)."""
        for key, text in pushed.items():
            self.values[(task_id, key)] = text

    def value(self, task_id: str, key: str = XCOM_RETURN_KEY) -> Any:
        """The deserialized value ``task_id`` pushed under ``key``, or None."""
        text = self.values.get((task_id, key))
        return None if text is None else json_values.deserialize(text)

    def __getitem__(self, task_key: tuple[str, str]) -> str:
        return self.values[task_key]

    def __contains__(self, task_key: object) -> bool:
        return task_key in self.values

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self.values)

    def __len__(self) -> int:
        return len(self.values)


@dataclass
class TaskResult:
    """How one task of an in-process run ended."""

    task_id: str
    state: S
    tries: int = 0
    duration: float = 0.0
    error: str | None = None


@dataclass
class DagRunResult:
    """How an in-process run ended: its state, each task's result and the XComs pushed."""

    dag_id: str
    run_id: str
    state: DagRunState
    tasks: dict[str, TaskResult] = field(default_factory=dict)
    xcoms: MemoryXComs = field(default_factory=MemoryXComs)

    @property
    def states(self) -> dict[str, S]:
        """``task_id -> final state``."""
        return {task_id: r.state for task_id, r in self.tasks.items()}


def manual_run(
    dag: DAG,
    *,
    logical_date: pendulum.DateTime | None = None,
    conf: dict[str, Any] | None = None,
    now: pendulum.DateTime | None = None,
) -> RunInfo:
    """A manual run of ``dag`` at ``logical_date`` (default ``now``, default the current time),
    with the data interval ``windvane dags trigger`` gives a run at that date: the timetable's
    manual-run inference, for a periodic schedule the last interval complete at that date (as
    Airflow's ``dags trigger``, ``dags test`` and ``tasks test`` do)."""
    now = now or pendulum.now("UTC")
    logical = (logical_date or now).in_timezone("UTC")
    interval = dag.timetable.infer_manual_data_interval(run_after=logical)
    return RunInfo(
        dag_id=dag.dag_id,
        run_id=DagRunType.MANUAL.run_id(logical.isoformat()),
        run_type=DagRunType.MANUAL.value,
        logical_date=logical,
        data_interval_start=interval.start,
        data_interval_end=interval.end,
        conf=conf or {},
        start_date=now,
    )


def task_context(
    task: BaseOperator,
    run: RunInfo,
    xcoms: MemoryXComs,
    *,
    try_number: int = 1,
    var_getter: VariableGetter | None = None,
    conn_getter: ConnectionGetter | None = None,
) -> dict[str, Any]:
    """The context one try of ``task`` sees in ``run``, pulling XComs from ``xcoms``;
    ``var``/``conn`` read through the getters (without them they raise "not configured")."""
    dag = task.dag
    if dag is None:
        raise DagDefinitionError(f"task {task.task_id!r} belongs to no DAG: it cannot run")
    ti = RuntimeTaskInstance(
        dag_id=dag.dag_id,
        task_id=task.task_id,
        run_id=run.run_id,
        try_number=try_number,
        max_tries=task.retries,
        reader=xcoms,
    )
    params = params_for_run(dag.params, task.params, run.conf)
    return build_context(
        run=run, dag=dag, task=task, ti=ti, params=params, var_getter=var_getter, conn_getter=conn_getter
    )


@dataclass
class Reschedules:
    """A reschedule-mode sensor run in process: its tries that ended ``up_for_reschedule`` run
    again, with the same try number, once their reschedule date passed (waited for here)."""

    first_poke_at: datetime | None = None
    count: int = 0
    sleep: Callable[[float], None] = time.sleep

    def prepare(self, context: dict[str, Any]) -> datetime:
        """Hand the reschedules so far to the try's ``ti``; when the try starts."""
        ti: RuntimeTaskInstance = context["ti"]
        ti.first_poke_at, ti.reschedule_count = self.first_poke_at, self.count
        return datetime.now(UTC)

    def again(self, outcome: TryOutcome, started_at: datetime) -> bool:
        """True when ``outcome`` is a reschedule: the same try runs again (after waiting for it)."""
        if outcome.state is not S.UP_FOR_RESCHEDULE:
            return False
        self.first_poke_at = self.first_poke_at or started_at
        self.count += 1
        if outcome.reschedule_at is not None:
            self.sleep(max(0.0, (outcome.reschedule_at - datetime.now(UTC)).total_seconds()))
        return True


def run_dag_in_process(
    dag: DAG,
    *,
    logical_date: pendulum.DateTime | None = None,
    conf: dict[str, Any] | None = None,
    now: pendulum.DateTime | None = None,
    on_task_done: Callable[[TaskResult], None] | None = None,
    var_getter: VariableGetter | None = None,
    conn_getter: ConnectionGetter | None = None,
    callback_timeout: float = DEFAULT_CALLBACK_TIMEOUT,
) -> DagRunResult:
    """Run every task of one manual run of ``dag`` to a final state and return what happened.

    ``logical_date`` defaults to ``now`` (default: the current time); ``conf``
    is the run's configuration; ``on_task_done`` is called after each task's
    last try; ``var_getter``/``conn_getter`` serve the context's ``var`` and
    ``conn``. Task code runs in this process: an exception becomes the try's
    outcome, as in a worker; each task callback may run ``callback_timeout`` seconds.
    """
    run = manual_run(dag, logical_date=logical_date, conf=conf, now=now)
    env = jinja_env_for(dag)
    weights = dag.priority_weights()
    order = {t.task_id: i for i, t in enumerate(dag.topological_sort())}
    tracker = RunTracker(dag.upstream_map(), {t.task_id: t.trigger_rule for t in dag.tasks})
    result = DagRunResult(dag.dag_id, run.run_id, DagRunState.RUNNING)
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
        waits = Reschedules()
        while state in WAITING_STATES:
            res.tries += state is S.UP_FOR_RETRY
            context = task_context(
                task, run, result.xcoms, try_number=res.tries, var_getter=var_getter, conn_getter=conn_getter
            )
            started_at, started = waits.prepare(context), time.perf_counter()
            outcome = run_try(task, context, jinja_env=env, callback_timeout=callback_timeout)
            res.duration += time.perf_counter() - started
            state, res.error = outcome.state, outcome.error
            result.xcoms.store(task_id, outcome.xcoms)
            if waits.again(outcome, started_at):
                state = S.UP_FOR_RESCHEDULE
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
    result.state = tracker.run_state() or DagRunState.FAILED
    return result
