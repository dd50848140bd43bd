"""DAG rows: one per DAG the DAG processor has parsed, with its serialized form.

The DAG processor writes them (:func:`upsert_dag`; it deactivates through its own store operations);
the scheduler reads the serialized JSON (:func:`get_serialized`); users pause
and unpause (:func:`set_paused`). The ``next_dagrun_*`` columns belong to the
scheduler (:func:`set_next_dagrun`; the DAG processor sets them once for a
new DAG).

Lock order (PostgreSQL, docs/scaling.md "Lock order"): every change to a row the scheduler reads
also updates the one ``dag_change`` row (a trigger), held to the commit. A transaction that changes
several DAG rows therefore locks them all first, in ``dag_id`` order (:func:`lock_for_change`), so
it never holds ``dag_change`` while it waits for a DAG row.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, select, update

from windvane.core.store._time import from_db, to_db
from windvane.core.store._upsert import upsert, upsert_many
from windvane.core.store.rows import DagRow
from windvane.core.store.tables import dag
from windvane.errors import NotFoundError

#: Columns the DAG processor owns, rewritten on every parse.
_PARSED_COLUMNS = (
    "fileloc",
    "dag_hash",
    "serialized",
    "timetable_summary",
    "description",
    "tags",
    "owners",
    "is_active",
    "last_parsed_at",
)
#: Every column but the (large) serialized JSON.
_LISTED = [column for column in dag.c if column.name != "serialized"]


def upsert_dag(
    conn: Connection,
    *,
    dag_id: str,
    fileloc: str,
    dag_hash: str,
    serialized: str,
    last_parsed_at: datetime,
    timetable_summary: str | None = None,
    description: str | None = None,
    tags: Sequence[str] = (),
    owners: str | None = None,
    paused_on_create: bool = False,
) -> None:
    """Store a freshly parsed DAG and mark it active.

    A new DAG starts paused if ``paused_on_create``; an existing one keeps its
    ``is_paused`` and its ``next_dagrun_*`` columns.
    """
    values = parsed_dag_row(
        dag_id=dag_id,
        fileloc=fileloc,
        dag_hash=dag_hash,
        serialized=serialized,
        last_parsed_at=last_parsed_at,
        timetable_summary=timetable_summary,
        description=description,
        tags=tags,
        owners=owners,
        paused_on_create=paused_on_create,
    )
    upsert(conn, dag, values, key=["dag_id"], update=_PARSED_COLUMNS)


def upsert_dags(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """:func:`upsert_dag` for many DAGs at once (rows made by :func:`parsed_dag_row`), in one
    executemany: the DAG processor stores a batch of parsed files' DAGs this way."""
    upsert_many(conn, dag, rows, key=["dag_id"], update=_PARSED_COLUMNS)


def parsed_dag_row(
    *,
    dag_id: str,
    fileloc: str,
    dag_hash: str,
    serialized: str,
    last_parsed_at: datetime,
    timetable_summary: str | None = None,
    description: str | None = None,
    tags: Sequence[str] = (),
    owners: str | None = None,
    paused_on_create: bool = False,
) -> dict[str, Any]:
    """The values of a freshly parsed DAG's row (see :func:`upsert_dag`)."""
    return {
        "dag_id": dag_id,
        "fileloc": fileloc,
        "dag_hash": dag_hash,
        "serialized": serialized,
        "timetable_summary": timetable_summary,
        "description": description,
        "tags": list(tags),
        "owners": owners,
        "is_active": True,
        "is_paused": paused_on_create,
        "last_parsed_at": to_db(last_parsed_at, f"last_parsed_at of DAG {dag_id!r}"),
    }


def deactivate(conn: Connection, dag_ids: Iterable[str]) -> int:
    """Deactivate the given DAGs (unknown ids are ignored), their rows locked first in ``dag_id``
    order (:func:`lock_for_change`; module doc: lock order); how many rows changed."""
    ids = lock_for_change(conn, list(dag_ids))
    if not ids:
        return 0
    stmt = update(dag).where(dag.c.dag_id.in_(ids), dag.c.is_active).values(is_active=False)
    return conn.execute(stmt).rowcount


def lock_for_change(conn: Connection, dag_ids: Collection[str], chunk: int = 500) -> list[str]:
    """Lock the rows of ``dag_ids`` (``SELECT ... FOR UPDATE``) in ``dag_id`` order, in chunks of
    ``chunk`` ids; the ids found, sorted. Call it before changing any of them (module doc: lock
    order). A no-op on SQLite, whose writers are serialized already (returns ``dag_ids`` sorted)."""
    ids = sorted(set(dag_ids))
    if conn.dialect.name != "postgresql":
        return ids
    found: list[str] = []
    for i in range(0, len(ids), chunk):
        q = select(dag.c.dag_id).where(dag.c.dag_id.in_(ids[i : i + chunk])).order_by(dag.c.dag_id)
        found.extend(conn.execute(q.with_for_update()).scalars())
    return found


def get_serialized(conn: Connection, dag_id: str) -> str:
    """The serialized JSON of ``dag_id``; :class:`NotFoundError` if it was never stored."""
    text: str | None = conn.execute(
        select(dag.c.serialized).where(dag.c.dag_id == dag_id)
    ).scalar_one_or_none()
    if text is None:
        raise NotFoundError(f"DAG {dag_id!r} does not exist")
    return text


def get_dag(conn: Connection, dag_id: str) -> DagRow:
    """The row of ``dag_id``; :class:`NotFoundError` if there is none."""
    row = conn.execute(select(*_LISTED).where(dag.c.dag_id == dag_id)).mappings().first()
    if row is None:
        raise NotFoundError(f"DAG {dag_id!r} does not exist")
    return _row(row)


def set_paused(conn: Connection, dag_id: str, paused: bool) -> None:
    """Pause or unpause ``dag_id``; :class:`NotFoundError` if there is no such DAG."""
    if conn.execute(update(dag).where(dag.c.dag_id == dag_id).values(is_paused=paused)).rowcount == 0:
        raise NotFoundError(f"DAG {dag_id!r} does not exist")


def set_next_dagrun(
    conn: Connection,
    dag_id: str,
    logical_date: datetime | None,
    interval_start: datetime | None,
    interval_end: datetime | None,
    create_after: datetime | None,
) -> None:
    """Where the next scheduled run of ``dag_id`` stands (all None: there is none to create)."""
    conn.execute(
        update(dag)
        .where(dag.c.dag_id == dag_id)
        .values(
            next_dagrun_logical_date=logical_date,
            next_dagrun_data_interval_start=interval_start,
            next_dagrun_data_interval_end=interval_end,
            next_dagrun_create_after=create_after,
        )
    )


def list_dags(
    conn: Connection, *, include_inactive: bool = False, paused: bool | None = None
) -> list[DagRow]:
    """DAGs by id: active ones only unless ``include_inactive``; only paused or
    only unpaused ones when ``paused`` is given."""
    stmt = select(*_LISTED).order_by(dag.c.dag_id)
    if not include_inactive:
        stmt = stmt.where(dag.c.is_active)
    if paused is not None:
        stmt = stmt.where(dag.c.is_paused == paused)
    return [_row(r) for r in conn.execute(stmt).mappings()]


def _row(row: RowMapping) -> DagRow:
    return DagRow(
        dag_id=row["dag_id"],
        fileloc=row["fileloc"],
        is_active=bool(row["is_active"]),
        is_paused=bool(row["is_paused"]),
        dag_hash=row["dag_hash"],
        timetable_summary=row["timetable_summary"],
        description=row["description"],
        tags=list(row["tags"] or ()),
        owners=row["owners"],
        last_parsed_at=from_db(row["last_parsed_at"]),
        next_dagrun_logical_date=from_db(row["next_dagrun_logical_date"]),
        next_dagrun_data_interval_start=from_db(row["next_dagrun_data_interval_start"]),
        next_dagrun_data_interval_end=from_db(row["next_dagrun_data_interval_end"]),
        next_dagrun_create_after=from_db(row["next_dagrun_create_after"]),
    )
