"""Set-based statements the processor runs on the metadata database.

Everything here works on many rows per statement (``IN`` lists in chunks,
executemany), so a batch of results costs a handful of round trips whatever
its size. :mod:`.store_writer` decides *what* to write; this module writes it.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator, Sequence
from datetime import datetime
from typing import Any

from pendulum import DateTime
from sqlalchemy import Connection, bindparam, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from windvane.core.model.serialized_dag import NextRun, SerializedDag
from windvane.core.store import dags as dag_store
from windvane.core.store._time import to_db
from windvane.core.store.tables import dag, dag_file, import_error
from windvane.errors import StoreError

#: Most values bound in one ``IN (...)`` (SQLite's old limit is 999).
CHUNK = 500
_SCHEDULE_KEYS = ("timetable", "start_date", "end_date", "catchup")
_NEXT_COLUMNS = (
    "next_dagrun_logical_date",
    "next_dagrun_data_interval_start",
    "next_dagrun_data_interval_end",
    "next_dagrun_create_after",
)
_FILE_UPDATED = ("content_hash", "mtime", "last_parsed_at", "parse_duration", "dag_ids")


def chunks(values: Sequence[str]) -> Iterator[list[str]]:
    for i in range(0, len(values), CHUNK):
        yield list(values[i : i + CHUNK])


def load_file_index(conn: Connection) -> dict[str, tuple[str, list[str]]]:
    """``path -> (content_hash, dag_ids)`` of every stored ``dag_file`` row."""
    rows = conn.execute(select(dag_file.c.path, dag_file.c.content_hash, dag_file.c.dag_ids))
    return {path: (content_hash, list(ids or ())) for path, content_hash, ids in rows}


def remove_files(conn: Connection, paths: Collection[str]) -> set[str]:
    """Forget files that are gone: deactivate their DAGs, drop their import errors and dag_file rows."""
    owned: list[str] = []
    for chunk in chunks(sorted(paths)):
        stmt = select(dag.c.dag_id).where(dag.c.is_active, dag.c.fileloc.in_(chunk))
        owned.extend(conn.execute(stmt).scalars())
    # Their rows locked in dag_id order before the first change takes dag_change (lock order).
    deactivated = deactivate(conn, dag_store.lock_for_change(conn, owned, CHUNK))
    for chunk in chunks(sorted(paths)):
        conn.execute(delete(import_error).where(import_error.c.filename.in_(chunk)))
        conn.execute(delete(dag_file).where(dag_file.c.path.in_(chunk)))
    return deactivated


def reconcile(conn: Connection, present: Collection[str]) -> set[str]:
    """At startup: forget every stored file not in ``present`` (deleted while nobody watched)."""
    keep = set(present)
    stored = set(conn.execute(select(dag.c.fileloc).where(dag.c.is_active)).scalars())
    stored.update(conn.execute(select(import_error.c.filename)).scalars())
    stored.update(conn.execute(select(dag_file.c.path)).scalars())
    return remove_files(conn, stored - keep)


def existing_dags(
    conn: Connection, paths: Sequence[str], dag_ids: Sequence[str]
) -> dict[str, tuple[str, bool, str]]:
    """``dag_id -> (fileloc, is_active, dag_hash)``: rows of ``dag_ids`` and active DAGs of ``paths``.

    On PostgreSQL every row returned is locked (``FOR UPDATE``), in ``dag_id`` order: these are
    all the existing rows the batch may change, and they are locked before it changes any, so it
    never holds ``dag_change`` (taken by the first change's trigger) while waiting for a DAG row
    (docs/scaling.md, "Lock order"). Read after the lock: what the decisions are made on stays."""
    owned: set[str] = set()
    for chunk in chunks(paths):
        stmt = select(dag.c.dag_id).where(dag.c.is_active, dag.c.fileloc.in_(chunk))
        owned.update(conn.execute(stmt).scalars())
    wanted, in_paths = set(dag_ids), set(paths)
    lock = conn.dialect.name == "postgresql"
    found: dict[str, tuple[str, bool, str]] = {}
    columns = (dag.c.dag_id, dag.c.fileloc, dag.c.is_active, dag.c.dag_hash)
    for chunk in chunks(sorted(owned | wanted)):
        stmt = select(*columns).where(dag.c.dag_id.in_(chunk)).order_by(dag.c.dag_id)
        for i, p, a, h in conn.execute(stmt.with_for_update() if lock else stmt):
            if i in wanted or (a and p in in_paths):  # an owned row may have moved before the lock
                found[i] = (p, bool(a), h)
    return found


def clear_import_errors(conn: Connection, paths: Sequence[str]) -> None:
    """Drop the import errors of ``paths``."""
    for chunk in chunks(paths):
        conn.execute(delete(import_error).where(import_error.c.filename.in_(chunk)))


def stored_schedule_keys(conn: Connection, dag_ids: Sequence[str]) -> dict[str, tuple[Any, ...]]:
    """:func:`schedule_key` of the stored versions of ``dag_ids``."""
    found: dict[str, tuple[Any, ...]] = {}
    for chunk in chunks(dag_ids):
        query = select(dag.c.dag_id, dag.c.serialized).where(dag.c.dag_id.in_(chunk))
        for dag_id, text in conn.execute(query):
            try:
                data = json.loads(text)
            except ValueError:
                data = {}
            found[dag_id] = tuple(json.dumps(data.get(k), sort_keys=True) for k in _SCHEDULE_KEYS)
    return found


def deactivate(conn: Connection, dag_ids: Sequence[str]) -> set[str]:
    """Deactivate the active DAGs among ``dag_ids``; the ids that changed."""
    done: set[str] = set()
    for chunk in chunks(dag_ids):
        stmt = update(dag).where(dag.c.is_active, dag.c.dag_id.in_(chunk)).values(is_active=False)
        done.update(conn.execute(stmt.returning(dag.c.dag_id)).scalars())
    return done


def set_next_dagruns(
    conn: Connection, dags: Sequence[tuple[SerializedDag, NextRun | None]], now: DateTime
) -> None:
    """Set ``next_dagrun_*`` of ``dags`` as if they never ran (one executemany). Each DAG comes
    with its first next run if it was already computed (None: computed here at ``now``)."""
    if not dags:
        return
    rows: list[dict[str, Any]] = []
    for sd, known in dags:
        what = f"next_dagrun of DAG {sd.dag_id!r}"
        values = known if known is not None else sd.next_run(None, now)
        row: dict[str, Any] = {"b_dag_id": sd.dag_id}
        for column, value in zip(_NEXT_COLUMNS, values, strict=True):
            row[f"b_{column}"] = to_db(value, what) if value is not None else None
        rows.append(row)
    stmt = (
        update(dag)
        .where(dag.c.dag_id == bindparam("b_dag_id"))
        .values({column: bindparam(f"b_{column}") for column in _NEXT_COLUMNS})
    )
    conn.execute(stmt, rows)


def upsert_file_rows(conn: Connection, rows: Sequence[dict[str, Any]], now: datetime) -> None:
    """Insert or refresh ``dag_file`` rows (one executemany); each row has every column but
    ``last_parsed_at``, which is ``now``."""
    if not rows:
        return
    parsed_at = to_db(now, "dag_file.last_parsed_at")
    rows = [{**row, "last_parsed_at": parsed_at} for row in rows]
    dialect = conn.dialect.name
    if dialect == "postgresql":
        pg_stmt = postgresql.insert(dag_file)
        conn.execute(
            pg_stmt.on_conflict_do_update(
                index_elements=["path"], set_={k: pg_stmt.excluded[k] for k in _FILE_UPDATED}
            ),
            rows,
        )
    elif dialect == "sqlite":
        lite_stmt = sqlite.insert(dag_file)
        conn.execute(
            lite_stmt.on_conflict_do_update(
                index_elements=["path"], set_={k: lite_stmt.excluded[k] for k in _FILE_UPDATED}
            ),
            rows,
        )
    else:
        raise StoreError(f"unsupported database dialect {dialect!r} (writing dag_file)")


def schedule_key(sd: SerializedDag) -> tuple[Any, ...]:
    """What decides when a DAG runs: timetable, start_date, end_date, catchup (comparable)."""
    data = {
        "timetable": sd.timetable,
        "start_date": sd.start_date,
        "end_date": sd.end_date,
        "catchup": sd.catchup,
    }
    return tuple(json.dumps(data[k], sort_keys=True) for k in _SCHEDULE_KEYS)
