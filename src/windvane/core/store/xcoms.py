"""XComs: the serialized JSON values task instances push, one row per key.

Values arrive already serialized (see :mod:`windvane.core.serde`); this
module stores and reads text.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from sqlalchemy import Connection, Engine, delete, insert, select

from windvane.core.store._time import to_db
from windvane.core.store.engine import begin_read
from windvane.core.store.tables import xcom


class SqlXComReader:
    """A :class:`windvane.core.runtime_ti.XComReader` over the metadata database.

    Reads the unmapped value (``map_index`` -1); each call is one short read
    transaction, so it never holds up writers.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def get(self, *, dag_id: str, run_id: str, task_id: str, key: str) -> str | None:
        """The stored JSON text, or None when there is none."""
        stmt = select(xcom.c.value).where(
            xcom.c.dag_id == dag_id,
            xcom.c.run_id == run_id,
            xcom.c.task_id == task_id,
            xcom.c.map_index == -1,
            xcom.c.key == key,
        )
        with begin_read(self._engine) as conn:
            value: str | None = conn.execute(stmt).scalar_one_or_none()
        return value


def write_xcoms(
    conn: Connection,
    dag_run_id: int,
    dag_id: str,
    run_id: str,
    task_id: str,
    values: Mapping[str, str],
    now: datetime,
    *,
    map_index: int = -1,
) -> None:
    """Store ``values`` (key -> JSON text) as the XComs of one task instance,
    replacing every XCom it pushed before (an empty ``values`` just clears them)."""
    conn.execute(
        delete(xcom).where(
            xcom.c.dag_run_id == dag_run_id, xcom.c.task_id == task_id, xcom.c.map_index == map_index
        )
    )
    if not values:
        return
    timestamp = to_db(now, f"XCom timestamp of task {task_id!r} in run {run_id!r}")
    rows = [
        {
            "dag_run_id": dag_run_id,
            "task_id": task_id,
            "map_index": map_index,
            "key": key,
            "dag_id": dag_id,
            "run_id": run_id,
            "value": value,
            "timestamp": timestamp,
        }
        for key, value in values.items()
    ]
    conn.execute(insert(xcom), rows)


def clear_xcoms(conn: Connection, dag_run_id: int, task_ids: Iterable[str]) -> int:
    """Delete every XCom (all map indexes) of ``task_ids`` in one DAG run; how many rows went."""
    ids = list(task_ids)
    if not ids:
        return 0
    stmt = delete(xcom).where(xcom.c.dag_run_id == dag_run_id, xcom.c.task_id.in_(ids))
    return conn.execute(stmt).rowcount
