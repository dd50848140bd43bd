"""The scheduler's own reads: DAG rows, the task instances of active runs, zombies, pools, jobs.

Its writes are the store's, shared with every other writer of the same tables:
runs in :mod:`windvane.core.store.dag_runs`, task instances in
:mod:`windvane.core.store.task_instances` (tries:
:mod:`windvane.core.store.try_queue`), DAG rows in
:mod:`windvane.core.store.dags`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

import pendulum
from sqlalchemy import Column, Connection, select

from windvane.core.model.serialized_dag import SerializedDag
from windvane.core.model.states import TaskInstanceState
from windvane.core.store.dag_runs import utc
from windvane.core.store.tables import dag as dag_t
from windvane.core.store.tables import dag_change as dag_change_t
from windvane.core.store.tables import dag_run as run_t
from windvane.core.store.tables import job as job_t
from windvane.core.store.tables import slot_pool as pool_t
from windvane.core.store.tables import task_instance as ti_t
from windvane.core.store.task_instances import chunks
from windvane.core.store.why import previous_ti_state as previous_ti_state

S = TaskInstanceState


# -- DAGs ------------------------------------------------------------------
@dataclass(frozen=True)
class DagRow:
    dag_id: str
    dag_hash: str
    is_paused: bool
    is_active: bool
    next_logical_date: pendulum.DateTime | None
    next_interval_start: pendulum.DateTime | None
    next_interval_end: pendulum.DateTime | None
    next_create_after: pendulum.DateTime | None
    fileloc: str = ""


@dataclass(frozen=True)
class DagChange:
    """The ``dag_change`` row: ``seq`` moves whenever a DAG row the scheduler reads changes (triggers
    raise it and stamp the row's ``change_seq`` with it, migrations 0006 and 0007); ``deleted_seq``
    is the ``seq`` of the last deleted row."""

    seq: int
    deleted_seq: int


def dag_change(conn: Connection) -> DagChange | None:
    """The ``dag_change`` counters; None when its row is missing (a truncated table): read every DAG
    row every time."""
    found = conn.execute(
        select(dag_change_t.c.seq, dag_change_t.c.deleted_seq).where(dag_change_t.c.id == 1)
    ).one_or_none()
    return None if found is None else DagChange(int(found[0]), int(found[1]))


def dag_rows(conn: Connection, changed_after: int | None = None) -> list[DagRow]:
    """Every DAG row, or only those stamped after ``changed_after`` (a ``dag_change`` seq)."""
    q = select(
        dag_t.c.dag_id,
        dag_t.c.dag_hash,
        dag_t.c.is_paused,
        dag_t.c.is_active,
        dag_t.c.next_dagrun_logical_date,
        dag_t.c.next_dagrun_data_interval_start,
        dag_t.c.next_dagrun_data_interval_end,
        dag_t.c.next_dagrun_create_after,
        dag_t.c.fileloc,
    )
    if changed_after is not None:
        q = q.where(dag_t.c.change_seq > changed_after)
    return [
        DagRow(r[0], r[1], bool(r[2]), bool(r[3]), utc(r[4]), utc(r[5]), utc(r[6]), utc(r[7]), r[8])
        for r in conn.execute(q)
    ]


def load_serialized(
    conn: Connection,
    dag_ids: Sequence[str],
    on_error: Callable[[str, Exception], None] | None = None,
) -> dict[str, SerializedDag]:
    """The serialized DAGs of ``dag_ids``; one that does not read goes to ``on_error`` (else raises)."""
    rows = conn.execute(select(dag_t.c.dag_id, dag_t.c.serialized).where(dag_t.c.dag_id.in_(dag_ids)))
    found: dict[str, SerializedDag] = {}
    for dag_id, text in rows:
        try:
            found[dag_id] = SerializedDag.from_json(text)
        except Exception as exc:
            if on_error is None:
                raise
            on_error(dag_id, exc)
    return found


@dataclass(frozen=True)
class TiRow:
    id: int
    dag_run_id: int
    task_id: str
    state: str
    try_number: int
    max_tries: int
    next_retry_at: pendulum.DateTime | None


def task_instances(conn: Connection, run_pks: Sequence[int]) -> dict[int, list[TiRow]]:
    out: dict[int, list[TiRow]] = defaultdict(list)
    for chunk in chunks(list(run_pks)):
        q = select(
            ti_t.c.id,
            ti_t.c.dag_run_id,
            ti_t.c.task_id,
            ti_t.c.state,
            ti_t.c.try_number,
            ti_t.c.max_tries,
            ti_t.c.next_retry_at,
        ).where(ti_t.c.dag_run_id.in_(chunk))
        for r in conn.execute(q):
            out[r[1]].append(TiRow(r[0], r[1], r[2], r[3], r[4], r[5], utc(r[6])))
    return out


def ti_states(conn: Connection, ti_ids: Sequence[int]) -> dict[int, tuple[str, int, float | None]]:
    """ti id -> (state, try number, ``next_retry_at`` as Unix seconds) of each of ``ti_ids``."""
    out: dict[int, tuple[str, int, float | None]] = {}
    for chunk in chunks(list(ti_ids)):
        q = select(ti_t.c.id, ti_t.c.state, ti_t.c.try_number, ti_t.c.next_retry_at).where(
            ti_t.c.id.in_(chunk)
        )
        for r in conn.execute(q):
            retry_at = utc(r[3])
            out[r[0]] = (r[1], r[2], None if retry_at is None else retry_at.timestamp())
    return out


@dataclass(frozen=True)
class Zombie:
    ti_id: int
    dag_run_id: int
    task_id: str
    try_number: int
    max_tries: int


def zombies(conn: Connection, cutoff: datetime, *, owner: int | None = None) -> list[Zombie]:
    """Running tries whose heartbeat is older than ``cutoff``; with ``owner``, only in the runs that
    scheduler job drives (several schedulers: each sweeps its own)."""
    return _tries_in_state_since(conn, S.RUNNING, ti_t.c.last_heartbeat_at, cutoff, owner)


def stuck_in_queued(conn: Connection, cutoff: datetime, *, owner: int | None = None) -> list[Zombie]:
    """Queued tries queued before ``cutoff`` (``task_queued_timeout``); with ``owner``, only in the
    runs that scheduler job drives."""
    return _tries_in_state_since(conn, S.QUEUED, ti_t.c.queued_dttm, cutoff, owner)


def _tries_in_state_since(
    conn: Connection, state: S, stamp: Column[datetime], cutoff: datetime, owner: int | None
) -> list[Zombie]:
    """Tries in ``state`` whose ``stamp`` column is older than ``cutoff`` (in ``owner``'s runs)."""
    q = select(ti_t.c.id, ti_t.c.dag_run_id, ti_t.c.task_id, ti_t.c.try_number, ti_t.c.max_tries).where(
        ti_t.c.state == state.value, stamp < cutoff
    )
    if owner is not None:
        owned = select(run_t.c.id).where(run_t.c.scheduled_by_job_id == owner)
        q = q.where(ti_t.c.dag_run_id.in_(owned))
    return [Zombie(*r) for r in conn.execute(q)]


def pool_capacities(conn: Connection) -> dict[str, int]:
    return {r[0]: int(r[1]) for r in conn.execute(select(pool_t.c.pool, pool_t.c.slots))}


# -- jobs ------------------------------------------------------------------
def live_jobs(conn: Connection, job_type: str, cutoff: datetime) -> list[tuple[int, str | None, int | None]]:
    q = select(job_t.c.id, job_t.c.hostname, job_t.c.pid).where(
        job_t.c.job_type == job_type, job_t.c.state == "running", job_t.c.latest_heartbeat >= cutoff
    )
    return [(r[0], r[1], r[2]) for r in conn.execute(q)]
