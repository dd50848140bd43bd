"""The schedulers' queueing critical section on the database: take the lock, count what is taken.

Several schedulers (:mod:`windvane.core.scheduler.coordination`) queue under one
PostgreSQL transaction-level advisory lock, held to the commit. What a pass then
needs is the slots every scheduler's queued and running tries hold: pool slots per
pool, task instances per DAG, per (DAG, task). :func:`lock_and_count` reads them
in **one** statement (three grouped counts in a ``UNION ALL``), sent in the same
round trip as the lock (PostgreSQL pipeline mode): the server runs the count only
once the lock is granted, and in READ COMMITTED the count's snapshot is taken
then, so it sees every queueing committed by the previous holder. Only the pools
and DAGs the pass can queue into are counted.
"""

from __future__ import annotations

from collections.abc import Collection
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection

from windvane.core.model.states import TaskInstanceState as S
from windvane.core.store.raw_sql import POSTGRESQL, Row, Sql, in_list, list_params
from windvane.core.store.sql_bridge import dbapi_tx

_LOCK = Sql("SELECT pg_advisory_xact_lock(:key)")
#: The queueing lock, then the solo lock shared (never waited for: false while a solo scheduler holds it).
_LOCK_SHARED = Sql("SELECT pg_advisory_xact_lock(:key), pg_try_advisory_xact_lock_shared(:solo)")
_ACTIVE = f"state IN ('{S.QUEUED.value}', '{S.RUNNING.value}')"
_COUNT = (
    f"SELECT 0, pool, '', SUM(pool_slots) FROM task_instance WHERE {_ACTIVE} AND pool {{pools}} "
    "GROUP BY pool "
    f"UNION ALL SELECT 1, dag_id, '', COUNT(*) FROM task_instance WHERE {_ACTIVE} AND dag_id {{dags}} "
    "GROUP BY dag_id "
    f"UNION ALL SELECT 2, dag_id, task_id, COUNT(*) FROM task_instance WHERE {_ACTIVE} "
    "AND dag_id {task_dags} GROUP BY dag_id, task_id"
)
_PG_COUNT = Sql(
    _COUNT.format(
        pools="= ANY(CAST(:pools AS TEXT[]))",
        dags="= ANY(CAST(:dags AS TEXT[]))",
        task_dags="= ANY(CAST(:task_dags AS TEXT[]))",
    )
)

Occupied = tuple[dict[str, int], dict[str, int], dict[tuple[str, str], int]]


@lru_cache(maxsize=256)
def _sqlite_count(pools: int, dags: int, task_dags: int) -> Sql:
    return Sql(
        _COUNT.format(
            pools="IN " + in_list("pools", pools),
            dags="IN " + in_list("dags", dags),
            task_dags="IN " + in_list("task_dags", task_dags),
        )
    )


def _statement(
    dialect: str, pools: list[str], dags: list[str], task_dags: list[str]
) -> tuple[Sql, dict[str, Any]]:
    if dialect == POSTGRESQL:
        return _PG_COUNT, {"pools": pools, "dags": dags, "task_dags": task_dags}
    params = {
        **list_params("pools", pools),
        **list_params("dags", dags),
        **list_params("task_dags", task_dags),
    }
    return _sqlite_count(len(pools), len(dags), len(task_dags)), params


def lock_and_count(
    conn: Connection,
    key: int,
    pools: Collection[str],
    dag_ids: Collection[str],
    tasks: Collection[tuple[str, str]],
) -> Occupied:
    """Take the advisory lock ``key`` (PostgreSQL; SQLite serializes writers already), then count
    the queued + running task instances everywhere: pool slots taken per pool of ``pools``, task
    instances per DAG of ``dag_ids`` and per (DAG, task) of ``tasks``. One round trip."""
    counted = _lock_and_count(conn, key, None, pools, dag_ids, tasks)
    assert counted is not None  # without a solo key the section is always entered
    return counted


def queue_section(
    conn: Connection,
    key: int,
    solo_key: int,
    pools: Collection[str],
    dag_ids: Collection[str],
    tasks: Collection[tuple[str, str]],
) -> Occupied | None:
    """:func:`lock_and_count`, also taking the solo lock ``solo_key`` shared
    (:mod:`~windvane.core.store.solo_lock`) in the same round trip; None when a scheduler alone holds
    it (then nothing may be queued in this transaction). SQLite: always entered."""
    return _lock_and_count(conn, key, solo_key, pools, dag_ids, tasks)


def count_outside(conn: Connection, run_ids: Collection[int]) -> Occupied:
    """Every queued + running task instance of a run not in ``run_ids``, counted unlocked: pool slots
    per pool, task instances per DAG and per (DAG, task). PostgreSQL only (a solo scheduler's)."""
    return _tally(dbapi_tx(conn).rows(_OUTSIDE, {"runs": sorted(run_ids)}), None)


_NOT_MINE = f"{_ACTIVE} AND dag_run_id <> ALL(CAST(:runs AS BIGINT[]))"
_OUTSIDE = Sql(
    f"SELECT 0, pool, '', SUM(pool_slots) FROM task_instance WHERE {_NOT_MINE} GROUP BY pool "
    f"UNION ALL SELECT 1, dag_id, '', COUNT(*) FROM task_instance WHERE {_NOT_MINE} GROUP BY dag_id "
    f"UNION ALL SELECT 2, dag_id, task_id, COUNT(*) FROM task_instance WHERE {_NOT_MINE} "
    "GROUP BY dag_id, task_id"
)


def _lock_and_count(
    conn: Connection,
    key: int,
    solo_key: int | None,
    pools: Collection[str],
    dag_ids: Collection[str],
    tasks: Collection[tuple[str, str]],
) -> Occupied | None:
    tx = dbapi_tx(conn)
    task_dags = sorted({dag_id for dag_id, _ in tasks})
    sql, params = _statement(tx.dialect, sorted(pools), sorted(dag_ids), task_dags)
    if tx.dialect != POSTGRESQL:
        return _tally(tx.rows(sql, params), set(tasks))
    if solo_key is None:
        with tx.pipeline():
            tx.execute(_LOCK, {"key": key})
            rows = tx.rows(sql, params)
        return _tally(rows, set(tasks))
    locked, rows = tx.rows_together([(_LOCK_SHARED, {"key": key, "solo": solo_key}), (sql, params)])
    return _tally(rows, set(tasks)) if locked[0][1] else None


def _tally(rows: list[Row], wanted: set[tuple[str, str]] | None) -> Occupied:
    pool_slots: dict[str, int] = {}
    per_dag: dict[str, int] = {}
    per_task: dict[tuple[str, str], int] = {}
    for kind, name, task_id, count in rows:
        if kind == 0:
            pool_slots[name] = int(count or 0)
        elif kind == 1:
            per_dag[name] = int(count)
        elif wanted is None or (name, task_id) in wanted:
            per_task[(name, task_id)] = int(count)
    return pool_slots, per_dag, per_task
