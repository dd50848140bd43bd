"""Several schedulers' slot leases on PostgreSQL: read them with what every scheduler holds, write one's own.

A re-balance (:mod:`windvane.core.scheduler.leasing`) is one transaction on the scheduler's kept
session: :func:`lock_and_read` takes the queueing lock and reads, in the same round trip (pipeline
mode; the reads run, and take their snapshot, once the lock is granted), every *other* live
scheduler job's leases and the queued + running task instances of the given pools and DAGs grouped
by the job that drives their run (``dag_run.scheduled_by_job_id``; None for runs nobody drives);
:func:`write` replaces the scheduler's own rows. Rows of jobs that are not ``running`` are never
read: :func:`drop` deletes them when a job is found dead.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

from windvane.core.model.states import TaskInstanceState as S
from windvane.core.store.raw_sql import Sql, Tx

#: Kinds of limits leased (``scheduler_lease.kind``).
POOL, DAG, TASK = 0, 1, 2

#: (kind, pool or DAG id, task id or '').
LeaseKey = tuple[int, str, str]

_LOCK = Sql("SELECT pg_advisory_xact_lock(:key)")
_LEASES = Sql(
    "SELECT l.job_id, l.kind, l.name, l.task_id, l.slots, l.demand FROM scheduler_lease l "
    "JOIN job j ON j.id = l.job_id WHERE j.state = 'running' AND l.job_id <> :me"
)
_ACTIVE = f"ti.state IN ('{S.QUEUED.value}', '{S.RUNNING.value}')"
_FROM = "FROM task_instance ti JOIN dag_run r ON r.id = ti.dag_run_id WHERE " + _ACTIVE
_USAGE = Sql(
    f"SELECT r.scheduled_by_job_id, {POOL}, ti.pool, '', SUM(ti.pool_slots) {_FROM} "
    "AND ti.pool = ANY(CAST(:pools AS TEXT[])) GROUP BY r.scheduled_by_job_id, ti.pool "
    f"UNION ALL SELECT r.scheduled_by_job_id, {DAG}, ti.dag_id, '', COUNT(*) {_FROM} "
    "AND ti.dag_id = ANY(CAST(:dags AS TEXT[])) GROUP BY r.scheduled_by_job_id, ti.dag_id "
    f"UNION ALL SELECT r.scheduled_by_job_id, {TASK}, ti.dag_id, ti.task_id, COUNT(*) {_FROM} "
    "AND ti.dag_id = ANY(CAST(:task_dags AS TEXT[])) "
    "GROUP BY r.scheduled_by_job_id, ti.dag_id, ti.task_id"
)
_DELETE = Sql("DELETE FROM scheduler_lease WHERE job_id = :me")
_INSERT = Sql(
    "INSERT INTO scheduler_lease (job_id, kind, name, task_id, slots, demand) "
    "SELECT :me, k, n, t, s, d FROM unnest(CAST(:kinds AS INTEGER[]), CAST(:names AS TEXT[]), "
    "CAST(:tasks AS TEXT[]), CAST(:slots AS INTEGER[]), CAST(:demands AS INTEGER[])) AS x(k, n, t, s, d)"
)
_DROP = Sql("DELETE FROM scheduler_lease WHERE job_id = ANY(CAST(:jobs AS INTEGER[]))")

#: job id -> key -> (lease, demand)
Leases = dict[int, dict[LeaseKey, tuple[int, int]]]
#: driving job id (None: nobody) -> key -> slots or task instances in flight
Usage = dict[int | None, dict[LeaseKey, int]]


def lock_and_read(tx: Tx, lock_key: int, me: int, keys: Collection[LeaseKey]) -> tuple[Leases, Usage]:
    """Take the queueing lock ``lock_key`` (held to the commit), then read the other live jobs'
    leases and the usage of ``keys`` by driving job. One round trip."""
    pools = sorted({name for kind, name, _ in keys if kind == POOL})
    dags = sorted({name for kind, name, _ in keys if kind == DAG})
    task_dags = sorted({name for kind, name, _ in keys if kind == TASK})
    _, lease_rows, usage_rows = tx.rows_together(
        [
            (_LOCK, {"key": lock_key}),
            (_LEASES, {"me": me}),
            (_USAGE, {"pools": pools, "dags": dags, "task_dags": task_dags}),
        ]
    )
    leases: Leases = {}
    for job_id, kind, name, task_id, slots, demand in lease_rows:
        leases.setdefault(int(job_id), {})[(int(kind), name, task_id)] = (int(slots), int(demand))
    usage: Usage = {}
    for job_id, kind, name, task_id, count in usage_rows:
        owner = None if job_id is None else int(job_id)
        usage.setdefault(owner, {})[(int(kind), name, task_id)] = int(count or 0)
    return leases, usage


def write(tx: Tx, me: int, held: Mapping[LeaseKey, tuple[int, int]]) -> None:
    """Replace job ``me``'s leases by ``held`` (key -> (lease, demand)); one round trip."""
    rows: Sequence[tuple[LeaseKey, tuple[int, int]]] = sorted(held.items())
    with tx.pipeline():
        tx.execute(_DELETE, {"me": me})
        if rows:
            tx.execute(
                _INSERT,
                {
                    "me": me,
                    "kinds": [k[0] for k, _ in rows],
                    "names": [k[1] for k, _ in rows],
                    "tasks": [k[2] for k, _ in rows],
                    "slots": [v[0] for _, v in rows],
                    "demands": [v[1] for _, v in rows],
                },
            )


def drop(tx: Tx, job_ids: Sequence[int]) -> None:
    """Delete the leases of ``job_ids`` (jobs found dead, or a scheduler going solo)."""
    if job_ids:
        tx.execute(_DROP, {"jobs": list(job_ids)})
