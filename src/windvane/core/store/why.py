"""Reading what "why isn't this task running?" needs for one task instance, and answering it.

:func:`load_facts` gathers, in one read transaction's worth of queries, every
fact the scheduler's readiness looks at (the run, the upstream states, the
occupancy of the DAG, the task and its pool with the tries holding it, the
previous run for ``depends_on_past``, the scheduler's heartbeat);
:func:`explain_task_instance` is the one call the CLI and the API make.
Occupancy is read from the database (queued + running rows), which is what
the scheduler's in-memory counts are built from.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, func, select

from windvane.core.model.serialized_dag import SerializedDag
from windvane.core.model.states import DagRunState
from windvane.core.model.states import TaskInstanceState as S
from windvane.core.model.why import explain
from windvane.core.model.why_types import MAX_HOLDERS, Explanation, PoolFacts, PoolHolder, TiFacts
from windvane.core.store._time import from_db
from windvane.core.store.dag_runs import get_dag_run
from windvane.core.store.jobs import JobState
from windvane.core.store.tables import dag as dag_t
from windvane.core.store.tables import dag_run as run_t
from windvane.core.store.tables import job as job_t
from windvane.core.store.tables import slot_pool as pool_t
from windvane.core.store.tables import task_instance as ti_t
from windvane.errors import NotFoundError

_OCCUPYING = (S.QUEUED.value, S.RUNNING.value)


def explain_task_instance(
    conn: Connection,
    dag_id: str,
    task_id: str,
    run_id: str,
    *,
    now: datetime,
    scheduler_threshold: float,
    parallelism: int | None = None,
) -> Explanation:
    """Why the task instance ``task_id`` of run ``run_id`` of DAG ``dag_id`` is (not) running at ``now``.

    ``scheduler_threshold`` is ``[scheduler] health_check_threshold_seconds``; with
    ``parallelism`` (``[core] parallelism``) a full executor is a reason too. An unknown
    DAG, task or run raises :class:`~windvane.errors.NotFoundError` naming it.
    """
    facts = load_facts(
        conn,
        dag_id,
        task_id,
        run_id,
        now=now,
        scheduler_threshold=scheduler_threshold,
        parallelism=parallelism,
    )
    return explain(facts)


def load_facts(
    conn: Connection,
    dag_id: str,
    task_id: str,
    run_id: str,
    *,
    now: datetime,
    scheduler_threshold: float,
    parallelism: int | None = None,
) -> TiFacts:
    """Every fact :func:`~windvane.core.model.why.explain` decides from, read from the database."""
    row = conn.execute(select(dag_t.c.serialized, dag_t.c.is_paused).where(dag_t.c.dag_id == dag_id)).first()
    if row is None:
        raise NotFoundError(f"DAG {dag_id!r} does not exist")
    dag = SerializedDag.from_json(row[0])
    if task_id not in dag.tasks:
        raise NotFoundError(f"task {task_id!r} not found in DAG {dag_id!r}")
    run = get_dag_run(conn, dag_id, run_id)
    spec = dag.tasks[task_id]
    wanted = {task_id, *spec.upstream}
    tis = {
        r.task_id: r
        for r in conn.execute(
            select(
                ti_t.c.task_id,
                ti_t.c.state,
                ti_t.c.try_number,
                ti_t.c.max_tries,
                ti_t.c.next_retry_at,
                ti_t.c.queued_dttm,
            ).where(ti_t.c.dag_run_id == run.id, ti_t.c.task_id.in_(wanted))
        )
    }
    own = tis.get(task_id)
    previous_run_id, previous_state = (
        _previous(conn, dag_id, task_id, run.logical_date) if spec.depends_on_past else (None, None)
    )
    active = _count(conn, dag_id)
    return TiFacts(
        dag=dag,
        task_id=task_id,
        run_id=run_id,
        run_state=DagRunState(run.state),
        state=S(own.state) if own else S.NONE,
        try_number=own.try_number if own else 0,
        max_tries=own.max_tries if own else spec.retries,
        upstream_states={u: S(tis[u].state) if u in tis else S.NONE for u in spec.upstream},
        is_paused=bool(row[1]),
        active_runs=_running_runs(conn, dag_id),
        dag_active_tis=active,
        task_active_tis=_count(conn, dag_id, task_id),
        pool=pool_facts(conn, spec.pool),
        now=now,
        scheduler_heartbeat_age=scheduler_heartbeat_age(conn, now),
        scheduler_threshold=scheduler_threshold,
        previous_state=previous_state,
        previous_run_id=previous_run_id,
        next_retry_at=from_db(own.next_retry_at) if own else None,
        queued_at=from_db(own.queued_dttm) if own else None,
        executor_open_slots=None if parallelism is None else parallelism - _count(conn),
    )


def pool_facts(conn: Connection, pool: str) -> PoolFacts:
    """The pool's size (None when it does not exist), the slots its queued + running tries take,
    and the first :data:`~windvane.core.model.why_types.MAX_HOLDERS` of those tries."""
    capacity = conn.execute(select(pool_t.c.slots).where(pool_t.c.pool == pool)).scalar()
    holding = (ti_t.c.pool == pool, ti_t.c.state.in_(_OCCUPYING))
    used, total = conn.execute(
        select(func.coalesce(func.sum(ti_t.c.pool_slots), 0), func.count()).where(*holding)
    ).one()
    q = (
        select(ti_t.c.dag_id, ti_t.c.run_id, ti_t.c.task_id, ti_t.c.state, ti_t.c.pool_slots)
        .where(*holding)
        .order_by(ti_t.c.dag_id, ti_t.c.run_id, ti_t.c.task_id)
        .limit(MAX_HOLDERS)
    )
    holders = tuple(PoolHolder(*r) for r in conn.execute(q))
    return PoolFacts(pool, None if capacity is None else int(capacity), int(used), holders, int(total))


def scheduler_heartbeat_age(conn: Connection, now: datetime) -> float | None:
    """Seconds since the freshest heartbeat of a running scheduler job (None: no scheduler is running)."""
    q = select(func.max(job_t.c.latest_heartbeat)).where(
        job_t.c.job_type == "scheduler", job_t.c.state == JobState.RUNNING.value
    )
    latest = from_db(conn.execute(q).scalar())
    return None if latest is None else max(0.0, (now - latest).total_seconds())


def previous_ti_state(conn: Connection, dag_id: str, task_id: str, before: datetime) -> str | None:
    """State of ``task_id`` in the DAG's latest run before ``before`` (None if no such TI)."""
    return _previous_row(conn, dag_id, task_id, before)[1]


def _previous(conn: Connection, dag_id: str, task_id: str, before: datetime) -> tuple[str | None, S | None]:
    run_id, state = _previous_row(conn, dag_id, task_id, before)
    return run_id, None if state is None else S(state)


def _previous_row(
    conn: Connection, dag_id: str, task_id: str, before: datetime
) -> tuple[str | None, str | None]:
    q = (
        select(run_t.c.run_id, ti_t.c.state)
        .join(run_t, run_t.c.id == ti_t.c.dag_run_id)
        .where(run_t.c.dag_id == dag_id, run_t.c.logical_date < before, ti_t.c.task_id == task_id)
        .order_by(run_t.c.logical_date.desc())
        .limit(1)
    )
    row = conn.execute(q).first()
    return (None, None) if row is None else (str(row[0]), str(row[1]))


def _count(conn: Connection, dag_id: str | None = None, task_id: str | None = None) -> int:
    q = select(func.count()).select_from(ti_t).where(ti_t.c.state.in_(_OCCUPYING))
    if dag_id is not None:
        q = q.where(ti_t.c.dag_id == dag_id)
    if task_id is not None:
        q = q.where(ti_t.c.task_id == task_id)
    return int(conn.execute(q).scalar_one())


def _running_runs(conn: Connection, dag_id: str) -> int:
    q = (
        select(func.count())
        .select_from(run_t)
        .where(run_t.c.dag_id == dag_id, run_t.c.state == DagRunState.RUNNING.value)
    )
    return int(conn.execute(q).scalar_one())
