"""XComs: the serialized JSON values task instances push, one row per key.

Values arrive already serialized (see :mod:`windvane.core.model.json_values`); this
module stores and reads text. Reads and writes run the statements of
:mod:`windvane.core.store.xcom_sql` (shared with workers) on the connection
under SQLAlchemy's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from sqlalchemy import Connection, Engine

from windvane.core.store.engine import begin_read
from windvane.core.store.sql_bridge import dbapi_tx
from windvane.core.store.xcom_sql import delete_xcoms, get_xcom, replace_xcoms


class SqlXComReader:
    """A :class:`windvane.core.task_api.task_instance.XComReader` over the metadata database.

    Reads the unmapped value (``map_index`` -1); each call is one short read
    transaction, so it never holds up writers.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def get(self, *, dag_id: str, run_id: str, task_id: str, key: str) -> str | None:
        """The stored JSON text, or None when there is none."""
        with begin_read(self._engine) as conn:
            return get_xcom(dbapi_tx(conn), dag_id=dag_id, run_id=run_id, task_id=task_id, key=key)


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
    replace_xcoms(dbapi_tx(conn), dag_run_id, dag_id, run_id, task_id, values, now, map_index=map_index)


def clear_xcoms(conn: Connection, dag_run_id: int, task_ids: Iterable[str]) -> int:
    """Delete every XCom (all map indexes) of ``task_ids`` in one DAG run; how many rows went."""
    return delete_xcoms(dbapi_tx(conn), dag_run_id, list(task_ids))
