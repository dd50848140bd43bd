"""One task's ``execute`` in this process, as a worker calls it, for operator and TaskFlow tests.

:func:`run_task` renders the task's templated fields, calls ``execute`` with
the context a manual run at ``logical_date`` gives it and pushes the return
value, like a worker; unlike a worker it lets exceptions through, so a test can
``pytest.raises`` them. Pass one :class:`MemoryXComs` to several calls to feed
one task's XComs to the next. For whole runs (trigger rules, retries, skips)
use :func:`~windvane.core.worker.in_process.run_dag_in_process`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pendulum

from windvane.core.authoring.baseoperator import BaseOperator
from windvane.core.task_api.task_instance import XCOM_RETURN_KEY, RuntimeTaskInstance
from windvane.core.task_api.templating import render_template_fields
from windvane.core.worker.in_process import MemoryXComs, manual_run, task_context
from windvane.core.worker.inputs import jinja_env_for
from windvane.errors import DagDefinitionError


@dataclass
class TaskRun:
    """What one :func:`run_task` call did: ``execute``'s return value, the task
    instance (``pushed`` XComs, ``skip_task_ids``) and the context it was given."""

    result: Any
    ti: RuntimeTaskInstance
    context: dict[str, Any] = field(repr=False)


def run_task(
    task: BaseOperator,
    xcoms: MemoryXComs | None = None,
    *,
    logical_date: pendulum.DateTime | None = None,
    conf: dict[str, Any] | None = None,
    try_number: int = 1,
) -> TaskRun:
    """Render, execute and push the return value of ``task`` in a manual run at ``logical_date``
    (default: now); what it pushed is kept in ``xcoms``."""
    dag = task.dag
    if dag is None:
        raise DagDefinitionError(f"task {task.task_id!r} belongs to no DAG: it cannot run")
    xcoms = xcoms if xcoms is not None else MemoryXComs()
    run = manual_run(dag, logical_date=logical_date, conf=conf)
    context = task_context(task, run, xcoms, try_number=try_number)
    ti: RuntimeTaskInstance = context["ti"]
    owner = f"task {task.task_id!r} in DAG {dag.dag_id!r}"
    render_template_fields(
        task, task.template_fields, context, jinja_env_for(dag), template_ext=task.template_ext, owner=owner
    )
    result = task.execute(context)
    if task.do_xcom_push and result is not None:
        ti.xcom_push(XCOM_RETURN_KEY, result)
    xcoms.store(task.task_id, ti.pushed)
    return TaskRun(result, ti, context)
