"""Pools: named slot budgets that limit how many task instances run at once.

``default_pool`` always exists (:func:`~windvane.core.store.migrate.migrate`
creates it) and cannot be deleted.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, RowMapping, delete, select

from windvane.core.store._upsert import upsert
from windvane.core.store.tables import slot_pool
from windvane.errors import NotFoundError, StoreError

DEFAULT_POOL = "default_pool"
DEFAULT_POOL_SLOTS = 128
_MAX_NAME = 256


@dataclass(frozen=True, slots=True)
class PoolRow:
    """One pool: its name, its number of slots and an optional description."""

    name: str
    slots: int
    description: str | None


def list_pools(conn: Connection) -> list[PoolRow]:
    """Every pool, by name."""
    rows = conn.execute(select(slot_pool).order_by(slot_pool.c.pool)).mappings()
    return [_row(r) for r in rows]


def get_pool(conn: Connection, name: str) -> PoolRow:
    """The pool called ``name``; :class:`NotFoundError` if there is none."""
    row = conn.execute(select(slot_pool).where(slot_pool.c.pool == name)).mappings().first()
    if row is None:
        raise NotFoundError(f"pool {name!r} does not exist")
    return _row(row)


def set_pool(conn: Connection, name: str, slots: int, description: str | None = None) -> PoolRow:
    """Create the pool ``name`` or replace its slots and description."""
    _validate(name, slots)
    values = {"pool": name, "slots": slots, "description": description}
    upsert(conn, slot_pool, values, key=["pool"], update=["slots", "description"])
    return PoolRow(name=name, slots=slots, description=description)


def ensure_pool(conn: Connection, name: str, slots: int, description: str | None = None) -> None:
    """Create the pool ``name`` unless it exists (an existing pool is left unchanged)."""
    _validate(name, slots)
    upsert(conn, slot_pool, {"pool": name, "slots": slots, "description": description}, key=["pool"])


def delete_pool(conn: Connection, name: str) -> None:
    """Delete the pool ``name``; ``default_pool`` cannot be deleted."""
    if name == DEFAULT_POOL:
        raise StoreError(f"pool {DEFAULT_POOL!r} cannot be deleted (set its slots instead)")
    if conn.execute(delete(slot_pool).where(slot_pool.c.pool == name)).rowcount == 0:
        raise NotFoundError(f"pool {name!r} does not exist")


def _validate(name: str, slots: int) -> None:
    if not name or len(name) > _MAX_NAME:
        raise StoreError(f"pool name {name!r} must have 1 to {_MAX_NAME} characters")
    if slots < 0:
        raise StoreError(f"pool {name!r}: slots must be 0 or more, got {slots}")


def _row(row: RowMapping) -> PoolRow:
    return PoolRow(name=row["pool"], slots=row["slots"], description=row["description"])
