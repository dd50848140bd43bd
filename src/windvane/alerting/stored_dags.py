"""The stored DAGs alerting reads (tags, task emails, callbacks), parsed once per ``dag_hash``."""

from __future__ import annotations

from sqlalchemy import Connection

from windvane.core.interfaces import SerializedDag
from windvane.core.store import dags
from windvane.errors import NotFoundError


class StoredDags:
    """A cache of parsed serialized DAGs, refreshed when a DAG's ``dag_hash`` changes."""

    def __init__(self) -> None:
        self._parsed: dict[str, tuple[str, SerializedDag]] = {}

    def get(self, conn: Connection, dag_id: str) -> SerializedDag | None:
        """The stored DAG ``dag_id`` (one row read; parsed only when its hash changed); None when
        there is no such DAG."""
        try:
            row = dags.get_dag(conn, dag_id)
        except NotFoundError:
            return None
        cached = self._parsed.get(dag_id)
        if cached is not None and cached[0] == row.dag_hash:
            return cached[1]
        parsed = SerializedDag.from_json(dags.get_serialized(conn, dag_id))
        self._parsed[dag_id] = (row.dag_hash, parsed)
        return parsed
