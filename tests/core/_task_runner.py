"""Tiny in-process task runners for operator and TaskFlow tests (no database, no scheduler)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import pendulum

from windvane.core.authoring.baseoperator import BaseOperator
from windvane.core.authoring.dag import DAG
from windvane.core.model.run_tracker import RunTracker
from windvane.core.model.states import TaskInstanceState
from windvane.core.task_api.context import RunInfo, build_context
from windvane.core.task_api.task_instance import XCOM_RETURN_KEY, RuntimeTaskInstance
from windvane.core.task_api.templating import make_jinja_env, render_template_fields
from windvane.core.worker.execution import run_try

LOGICAL_DATE = pendulum.datetime(2024, 1, 31, tz="UTC")
RUN_ID = "manual__2024-01-31T00:00:00+00:00"


class DictXComs:
    """An XComReader backed by a dict: (task_id, key) -> serialized JSON text."""

    def __init__(self) -> None:
        self.values: dict[tuple[str, str], str] = {}

    def get(self, *, dag_id: str, run_id: str, task_id: str, key: str) -> str | None:
        return self.values.get((task_id, key))

    def store(self, ti: RuntimeTaskInstance) -> None:
        for key, text in ti.pushed.items():
            self.values[(ti.task_id, key)] = text


@dataclass
class Ran:
    result: Any
    ti: RuntimeTaskInstance
    context: dict[str, Any] = field(repr=False)


def make_context(
    task: BaseOperator, xcoms: DictXComs | None = None, *, try_number: int = 1
) -> dict[str, Any]:
    assert task.dag is not None
    ti = RuntimeTaskInstance(
        dag_id=task.dag.dag_id, task_id=task.task_id, run_id=RUN_ID, try_number=try_number,
        reader=xcoms if xcoms is not None else DictXComs(),
    )  # fmt: skip
    run = RunInfo(
        dag_id=task.dag.dag_id, run_id=RUN_ID, run_type="manual", logical_date=LOGICAL_DATE,
        data_interval_start=LOGICAL_DATE, data_interval_end=LOGICAL_DATE,
    )  # fmt: skip
    return build_context(run=run, dag=task.dag, task=task, ti=ti, params={**task.dag.params, **task.params})


def jinja_env(dag: DAG) -> Any:
    return make_jinja_env(searchpath=[os.path.dirname(dag.fileloc), *dag.template_searchpath])


def run_task(task: BaseOperator, xcoms: DictXComs | None = None, *, try_number: int = 1) -> Ran:
    """Render the templated fields, call ``execute`` and push the return value, as a runner does."""
    assert task.dag is not None
    xcoms = xcoms if xcoms is not None else DictXComs()
    context = make_context(task, xcoms, try_number=try_number)
    ti: RuntimeTaskInstance = context["ti"]
    render_template_fields(
        task, task.template_fields, context, jinja_env(task.dag), template_ext=task.template_ext, owner="test"
    )
    result = task.execute(context)
    if task.do_xcom_push and result is not None:
        ti.xcom_push(XCOM_RETURN_KEY, result)
    xcoms.store(ti)
    return Ran(result, ti, context)


def run_dag(dag: DAG) -> tuple[dict[str, TaskInstanceState], DictXComs]:
    """Run every task of one run in dependency order, honouring trigger rules and skips."""
    rules = {tid: t.trigger_rule for tid, t in dag.task_dict.items()}
    tracker = RunTracker(dag.upstream_map(), rules)
    xcoms = DictXComs()
    tracker.evaluate()
    while not tracker.all_finished:
        ready = sorted(t for t, s in tracker.states.items() if s is TaskInstanceState.SCHEDULED)
        assert ready, f"stuck: {dict(tracker.states)}"
        for task_id in ready:
            task = dag.task_dict[task_id]
            context = make_context(task, xcoms)
            outcome = run_try(task, context, jinja_env=jinja_env(dag))
            xcoms.values.update({(task_id, k): v for k, v in outcome.xcoms.items()})
            for skipped in outcome.skip_task_ids:
                if tracker.state(skipped) is TaskInstanceState.NONE:
                    tracker.set_state(skipped, TaskInstanceState.SKIPPED)
            tracker.set_state(task_id, outcome.state)
    return dict(tracker.states), xcoms


def pulled(xcoms: DictXComs, task_id: str, key: str = XCOM_RETURN_KEY) -> Any:
    from windvane.core.model import json_values as serde

    text = xcoms.values.get((task_id, key))
    return None if text is None else serde.deserialize(text)
