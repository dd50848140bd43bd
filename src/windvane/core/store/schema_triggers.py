"""The triggers the schema relies on, the check that they exist, and batch migrations that keep them.

Two features live in triggers rather than in code: the worker's one-statement
finish journals itself (``state_journal_try_end`` on ``task_instance``,
migration 0010) and the scheduler reads only the DAG rows changed since its
last pass (``dag_change_*`` on ``dag``, migrations 0006-0007). A missing
trigger raises nothing: journal rows or DAG changes would silently stop
appearing. SQLite drops a table's triggers when Alembic's batch mode rebuilds
the table (copy, drop, rename), so:

* a migration that alters a table in batch mode uses
  :func:`batch_alter_table_keeping_triggers` instead of ``op.batch_alter_table``:
  the table's triggers are read before and created again after (their stored
  text, so whichever version of a trigger the database holds comes back);
* :func:`require_triggers` runs at the end of every
  :func:`~windvane.core.store.migrate.migrate`, inside its transaction: a
  migration that lost a trigger fails, naming the trigger and its table, and
  the whole upgrade is rolled back.

A migration that adds, renames or drops one of these triggers updates
:data:`REQUIRED_TRIGGERS` (a test compares it with the head schema on both databases).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from alembic import op
from sqlalchemy import Connection, text

from windvane.errors import StoreError

#: Trigger name -> its table, at the head schema (same names on SQLite and PostgreSQL).
REQUIRED_TRIGGERS: Mapping[str, str] = {
    "state_journal_try_end": "task_instance",
    "dag_change_insert": "dag",
    "dag_change_delete": "dag",
    "dag_change_update": "dag",
}

_SQLITE_TRIGGERS = text("SELECT name, tbl_name FROM sqlite_master WHERE type = 'trigger'")
_SQLITE_TABLE_TRIGGERS = text(
    "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = :table ORDER BY name"
)
# Enabled user triggers (tgenabled 'D': disabled) on tables of the schema search path.
_PG_TRIGGERS = text(
    "SELECT t.tgname, c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
    "WHERE NOT t.tgisinternal AND t.tgenabled <> 'D' AND pg_table_is_visible(c.oid)"
)


def existing_triggers(conn: Connection) -> dict[str, str]:
    """Every (enabled) trigger in the database: name -> table."""
    query = _PG_TRIGGERS if conn.dialect.name == "postgresql" else _SQLITE_TRIGGERS
    return {str(name): str(table) for name, table in conn.execute(query)}


def require_triggers(conn: Connection, required: Mapping[str, str] = REQUIRED_TRIGGERS) -> None:
    """Raise :class:`~windvane.errors.StoreError` naming each trigger of ``required`` missing from
    its table (or disabled, on PostgreSQL)."""
    found = existing_triggers(conn)
    missing = sorted((table, name) for name, table in required.items() if found.get(name) != table)
    if not missing:
        return
    listed = ", ".join(f"trigger {name!r} on table {table!r}" for table, name in missing)
    raise StoreError(
        f"the metadata database lacks {listed}: a migration that rebuilt the table dropped it (SQLite's "
        "batch mode does; alter it with windvane.core.store.schema_triggers."
        "batch_alter_table_keeping_triggers), or it was dropped or disabled by hand"
    )


@contextmanager
def batch_alter_table_keeping_triggers(table: str, **kwargs: Any) -> Iterator[Any]:
    """``op.batch_alter_table(table, **kwargs)``, and then ``table``'s triggers again as they were.

    For Alembic migrations. On PostgreSQL batch mode alters the table in place and keeps its
    triggers; on SQLite a rebuild drops them, and each is created again from its stored text (a
    trigger that names a column the migration dropped fails there, loudly: change it first).
    """
    conn = op.get_bind()
    saved: list[tuple[str, str]] = []
    if conn.dialect.name == "sqlite":
        found = conn.execute(_SQLITE_TABLE_TRIGGERS, {"table": table})
        saved = [(str(name), str(sql)) for name, sql in found]
    with op.batch_alter_table(table, **kwargs) as batch:
        yield batch
    if not saved:
        return
    left = {name for name, _ in conn.execute(_SQLITE_TABLE_TRIGGERS, {"table": table})}
    for name, sql in saved:
        if name not in left:
            conn.exec_driver_sql(sql)
