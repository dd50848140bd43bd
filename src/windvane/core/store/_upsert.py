"""INSERT ... ON CONFLICT for both supported dialects."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite

from windvane.errors import StoreError


def upsert(
    conn: Connection,
    table: Table,
    values: Mapping[str, Any],
    *,
    key: Sequence[str],
    update: Sequence[str] = (),
) -> None:
    """Insert ``values`` into ``table``; on a conflict on ``key``, set the ``update``
    columns from ``values`` (or do nothing when ``update`` is empty)."""
    _upsert(conn, table, [values], key=key, update=update)


def upsert_many(
    conn: Connection,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    key: Sequence[str],
    update: Sequence[str] = (),
) -> None:
    """:func:`upsert` each of ``rows`` (all with the same columns) in one statement, executed
    once for all of them (an executemany: one statement built and compiled, not one per row)."""
    if rows:
        _upsert(conn, table, rows, key=key, update=update)


def _upsert(
    conn: Connection,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    key: Sequence[str],
    update: Sequence[str],
) -> None:
    dialect = conn.dialect.name
    many = len(rows) > 1
    values = rows[0]
    if dialect == "postgresql":
        pg_stmt = postgresql.insert(table) if many else postgresql.insert(table).values(dict(values))
        if update:
            pg_stmt = pg_stmt.on_conflict_do_update(
                index_elements=list(key), set_={name: pg_stmt.excluded[name] for name in update}
            )
        else:
            pg_stmt = pg_stmt.on_conflict_do_nothing(index_elements=list(key))
        conn.execute(pg_stmt, [dict(row) for row in rows] if many else None)
    elif dialect == "sqlite":
        lite_stmt = sqlite.insert(table) if many else sqlite.insert(table).values(dict(values))
        if update:
            lite_stmt = lite_stmt.on_conflict_do_update(
                index_elements=list(key), set_={name: lite_stmt.excluded[name] for name in update}
            )
        else:
            lite_stmt = lite_stmt.on_conflict_do_nothing(index_elements=list(key))
        conn.execute(lite_stmt, [dict(row) for row in rows] if many else None)
    else:
        raise StoreError(f"unsupported database dialect {dialect!r} (upsert into {table.name!r})")
