"""XCom rows in SQL: the statements every XCom read and write runs, on any DBAPI connection.

This is their single source: workers and task processes run them on a
:class:`~windvane.core.store.raw.RawDb`, :mod:`windvane.core.store.xcoms` on
the DBAPI connection under a SQLAlchemy one. Values are serialized JSON text
(see :mod:`windvane.core.model.json_values`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from windvane.core.store._time import to_db
from windvane.core.store.raw import RawDb
from windvane.core.store.raw_sql import Sql, Tx, in_list, list_params

_DELETE = Sql(
    "DELETE FROM xcom WHERE dag_run_id = :dag_run_id AND task_id = :task_id AND map_index = :map_index"
)
_INSERT = Sql(
    'INSERT INTO xcom (dag_run_id, task_id, map_index, "key", dag_id, run_id, value, "timestamp") '
    "VALUES (:dag_run_id, :task_id, :map_index, :key, :dag_id, :run_id, :value, :timestamp)"
)
_GET = Sql(
    "SELECT value FROM xcom WHERE dag_id = :dag_id AND run_id = :run_id AND task_id = :task_id "
    'AND map_index = -1 AND "key" = :key'
)


def replace_xcoms(
    tx: Tx,
    dag_run_id: int,
    dag_id: str,
    run_id: str,
    task_id: str,
    values: Mapping[str, str],
    now: datetime,
    *,
    map_index: int = -1,
    first_try: bool = False,
) -> None:
    """Store ``values`` (key -> JSON text) as the XComs of one task instance,
    replacing every XCom it pushed before (an empty ``values`` just clears them).

    ``first_try``: the task instance's first try is finishing, so it has no XComs yet (a try
    number never goes back, and a clear deletes XComs), and the delete is skipped: a no-op task's
    finish is one statement fewer."""
    where = {"dag_run_id": dag_run_id, "task_id": task_id, "map_index": map_index}
    if not first_try:
        tx.execute(_DELETE, where)
    if not values:
        return
    timestamp = to_db(now, f"XCom timestamp of task {task_id!r} in run {run_id!r}")
    common = {**where, "dag_id": dag_id, "run_id": run_id, "timestamp": timestamp}
    tx.execute_many(_INSERT, [{**common, "key": key, "value": value} for key, value in values.items()])


def delete_xcoms(tx: Tx, dag_run_id: int, task_ids: Sequence[str]) -> int:
    """Delete every XCom (all map indexes) of ``task_ids`` in one DAG run; how many rows went."""
    if not task_ids:
        return 0
    sql = Sql(
        f"DELETE FROM xcom WHERE dag_run_id = :dag_run_id AND task_id IN {in_list('task', len(task_ids))}"
    )
    return tx.execute(sql, {"dag_run_id": dag_run_id, **list_params("task", task_ids)})


def get_xcom(tx: Tx, *, dag_id: str, run_id: str, task_id: str, key: str) -> str | None:
    """The stored JSON text of the unmapped XCom ``key`` (``map_index`` -1), or None."""
    row = tx.first(_GET, {"dag_id": dag_id, "run_id": run_id, "task_id": task_id, "key": key})
    return None if row is None else str(row[0])


class RawXComReader:
    """A :class:`windvane.core.task_api.task_instance.XComReader` on a connection of its own, opened on
    the first read (a task that pulls nothing never connects). Each read is one short
    read transaction."""

    def __init__(self, db_url: str) -> None:
        self._db_url = db_url
        self._db: RawDb | None = None

    def get(self, *, dag_id: str, run_id: str, task_id: str, key: str) -> str | None:
        if self._db is None:
            self._db = RawDb(self._db_url)
        rows = self._db.read_one(_GET, {"dag_id": dag_id, "run_id": run_id, "task_id": task_id, "key": key})
        return str(rows[0][0]) if rows else None

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
