"""Workloads for executor and worker tests: what the scheduler would hand an executor.

:func:`queued_try` is the usual entry: it inserts (or reuses) a run, a queued
task instance, and returns the :class:`~windvane.core.model.workload.Workload`
for its first try.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Engine

from windvane.core.model.workload import TaskInstanceKey, Workload
from windvane.testing.rows import JOB_ID, LOGICAL_DATE, RUN_ID, find_run, insert_run, insert_task_instances

#: Keyword arguments of :func:`queued_try` that also describe the workload.
_WORKLOAD_FIELDS = ("try_number", "max_tries", "job_id")


def make_workload(
    ti_id: int,
    dag_run_id: int,
    dag_id: str,
    task_id: str,
    fileloc: str,
    *,
    run_id: str = RUN_ID,
    try_number: int = 1,
    max_tries: int = 0,
    job_id: int = JOB_ID,
    **extra: Any,
) -> Workload:
    """A manual run's workload at :data:`~windvane.testing.rows.LOGICAL_DATE`;
    ``extra`` sets other :class:`Workload` fields (``pool``, ``execution_timeout``...)."""
    return Workload(
        key=TaskInstanceKey(ti_id, dag_run_id, dag_id, run_id, task_id),
        try_number=try_number,
        max_tries=max_tries,
        job_id=job_id,
        fileloc=fileloc,
        run_type="manual",
        logical_date=LOGICAL_DATE.isoformat(),
        data_interval_start=LOGICAL_DATE.isoformat(),
        data_interval_end=LOGICAL_DATE.isoformat(),
        **extra,
    )


def queued_try(
    engine: Engine, fileloc: str, dag_id: str, task_id: str, *, others: Iterable[str] = (), **kwargs: Any
) -> Workload:
    """A queued try of ``task_id`` in the DAG file ``fileloc``, ready for an executor.

    Inserts the run :data:`~windvane.testing.rows.RUN_ID` of ``dag_id`` unless it
    exists, a queued task instance (``kwargs`` as for
    :func:`~windvane.testing.rows.insert_task_instances`) and task instances in
    state ``none`` for ``others`` (e.g. downstream tasks a branch may skip).
    """
    run = find_run(engine, dag_id) or insert_run(engine, dag_id)
    ids = insert_task_instances(engine, run, dag_id, [task_id], **kwargs)
    if others:
        insert_task_instances(engine, run, dag_id, others, state="none", try_number=0)
    fields = {k: v for k, v in kwargs.items() if k in _WORKLOAD_FIELDS}
    return make_workload(ids[task_id], run, dag_id, task_id, fileloc, **fields)
