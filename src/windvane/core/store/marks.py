"""Marking runs and task instances success or failed by hand (the API's and the UI's actions).

A mark is one transaction. Running and queued tries are left alone (their worker
owns the row until it finishes; mark them once they end); the run goes back to
``queued`` so the scheduler reloads it and re-decides the rest from the rows, as
after a clear. Marks are not journaled: a hand-made state raises no alert, as in
Airflow where marking runs no callbacks.
"""

from __future__ import annotations

from collections.abc import Iterable

import pendulum
from sqlalchemy import Connection, select, update

from windvane.core.model.run_tracker import descendants
from windvane.core.model.serialized_dag import SerializedDag
from windvane.core.model.states import DagRunState
from windvane.core.model.states import TaskInstanceState as S
from windvane.core.store import dag_runs
from windvane.core.store.tables import dag_run as run_t
from windvane.core.store.tables import task_instance as ti_t
from windvane.errors import NotFoundError, StoreError

_BUSY = (S.RUNNING.value, S.QUEUED.value)
#: The states a task instance or a run may be marked.
MARKABLE = (S.SUCCESS.value, S.FAILED.value)


def _check(state: str, what: str) -> None:
    if state not in MARKABLE:
        raise StoreError(f"{what} can be marked {' or '.join(MARKABLE)}, not {state!r}")


def mark_task_instances(
    conn: Connection,
    dag: SerializedDag,
    run_pk: int,
    task_ids: Iterable[str],
    state: str,
    *,
    now: pendulum.DateTime,
    downstream: bool = False,
    upstream: bool = False,
) -> list[str]:
    """Set ``task_ids`` (and their downstream/upstream tasks) of one run to ``state``; the task ids
    changed. A task whose try is running or queued is left as it is."""
    _check(state, f"task instances of DAG {dag.dag_id!r}")
    wanted = set(task_ids)
    unknown = wanted - set(dag.tasks)
    if unknown:
        raise NotFoundError(f"DAG {dag.dag_id!r} has no task(s) {sorted(unknown)}")
    wanted |= related(dag, wanted, downstream=downstream, upstream=upstream)
    changed = conn.execute(
        update(ti_t)
        .where(ti_t.c.dag_run_id == run_pk, ti_t.c.task_id.in_(sorted(wanted)), ti_t.c.state.notin_(_BUSY))
        .values(state=state, end_date=now, next_retry_at=None, updated_at=now)
        .returning(ti_t.c.task_id)
    ).scalars()
    marked = sorted(set(changed))
    if marked:
        dag_runs.requeue_run(conn, run_pk)
    return marked


def related(dag: SerializedDag, task_ids: set[str], *, downstream: bool, upstream: bool) -> set[str]:
    """The tasks downstream and/or upstream of ``task_ids`` (transitively), not themselves."""
    found: set[str] = set()
    if downstream:
        found |= set(descendants({t: list(s.downstream) for t, s in dag.tasks.items()}, task_ids))
    if upstream:
        found |= set(descendants({t: list(s.upstream) for t, s in dag.tasks.items()}, task_ids))
    return found - task_ids


def mark_run(conn: Connection, dag_id: str, run_pk: int, state: str, *, now: pendulum.DateTime) -> None:
    """Mark a run ``state``: success sets its unfinished task instances success; failed sets them
    failed (Airflow skips the ones not started; here they fail too, so the grid shows why the run
    stopped). Running and queued tries are left to finish."""
    _check(state, f"a run of DAG {dag_id!r}")
    exists = conn.execute(select(run_t.c.id).where(run_t.c.id == run_pk)).first()
    if exists is None:
        raise NotFoundError(f"run {run_pk} of DAG {dag_id!r} does not exist")
    unfinished = [S.NONE.value, S.SCHEDULED.value, S.UP_FOR_RETRY.value]
    conn.execute(
        update(ti_t)
        .where(ti_t.c.dag_run_id == run_pk, ti_t.c.state.in_(unfinished))
        .values(state=state, end_date=now, next_retry_at=None, updated_at=now)
    )
    conn.execute(
        update(run_t).where(run_t.c.id == run_pk).values(state=DagRunState(state).value, end_date=now)
    )
