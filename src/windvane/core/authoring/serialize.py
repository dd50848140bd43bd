"""Reducing an authored DAG to its :class:`~windvane.core.model.serialized_dag.SerializedDag`.

The DAG processor calls :func:`serialize_dag` on every DAG a file defines; callables
become "has a callback" flags and the timetable a plain dict.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pendulum

from windvane.core.model import json_values
from windvane.core.model.serialized_dag import (
    DAG_CALLBACKS,
    TASK_CALLBACKS,
    SerializedDag,
    TaskSpec,
    seconds_or_none,
)
from windvane.core.timetables.serialization import timetable_to_dict

if TYPE_CHECKING:
    from windvane.core.authoring.baseoperator import BaseOperator
    from windvane.core.authoring.dag import DAG


def task_spec(task: BaseOperator, priority_weight: int) -> TaskSpec:
    """One operator as the scheduler sees it."""
    email = task.email
    emails = (email,) if isinstance(email, str) else tuple(email or ())
    return TaskSpec(
        task_id=task.task_id,
        operator=task.operator_name,
        upstream=tuple(sorted(task.upstream_task_ids)),
        downstream=tuple(sorted(task.downstream_task_ids)),
        trigger_rule=task.trigger_rule.value,
        pool=task.pool,
        pool_slots=task.pool_slots,
        priority_weight=priority_weight,
        retries=task.retries,
        retry_delay=task.retry_delay.total_seconds(),
        retry_exponential_backoff=task.retry_exponential_backoff,
        max_retry_delay=seconds_or_none(task.max_retry_delay),
        execution_timeout=seconds_or_none(task.execution_timeout),
        depends_on_past=task.depends_on_past,
        max_active_tis_per_dag=task.max_active_tis_per_dag,
        queue=task.queue,
        sla=seconds_or_none(task.sla),
        owner=task.owner,
        email=emails,
        email_on_failure=task.email_on_failure,
        email_on_retry=task.email_on_retry,
        is_noop=task.is_noop,
        callbacks=tuple(name for name in TASK_CALLBACKS if getattr(task, name, None)),
        task_group=task.task_group.group_id if task.task_group is not None else None,
        doc_md=task.doc_md,
    )


def serialize_dag(dag: DAG) -> SerializedDag:
    """Reduce a validated DAG to its :class:`SerializedDag`."""
    weights = dag.priority_weights()
    task_starts = [pendulum.instance(t.start_date) for t in dag.tasks if t.start_date is not None]
    start = dag.start_date or min(task_starts, default=None)
    return SerializedDag(
        dag_id=dag.dag_id,
        fileloc=dag.fileloc,
        timetable=timetable_to_dict(dag.timetable),
        timezone=str(getattr(dag.timezone, "name", "UTC")),
        tasks={t.task_id: task_spec(t, weights[t.task_id]) for t in dag.topological_sort()},
        start_date=start.in_timezone("UTC").isoformat() if start else None,
        end_date=dag.end_date.in_timezone("UTC").isoformat() if dag.end_date else None,
        catchup=dag.catchup,
        max_active_runs=dag.max_active_runs,
        max_active_tasks=dag.max_active_tasks,
        dagrun_timeout=seconds_or_none(dag.dagrun_timeout),
        deadline=seconds_or_none(dag.deadline),
        tags=tuple(dag.tags),
        params=json_values.to_jsonable(dag.params),
        description=dag.description,
        doc_md=dag.doc_md,
        is_paused_upon_creation=dag.is_paused_upon_creation,
        callbacks=tuple(name for name in DAG_CALLBACKS if getattr(dag, name, None)),
        owners=tuple(sorted({t.owner for t in dag.tasks})),
    )
