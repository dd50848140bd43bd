"""Create, upgrade, check and reset the metadata database schema.

Migrations are Alembic scripts in ``migrations/`` run programmatically: the
:class:`alembic.config.Config` is built here, no ``alembic.ini`` is read.
Each operation runs in one write transaction (DDL is transactional on both
SQLite and PostgreSQL); on PostgreSQL an advisory lock makes concurrent
``migrate`` calls from several processes queue instead of colliding.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, MetaData, text

from windvane.core.store.engine import begin_read, begin_write
from windvane.core.store.pools import DEFAULT_POOL, DEFAULT_POOL_SLOTS, ensure_pool
from windvane.core.store.tables import metadata
from windvane.errors import StoreError

MIGRATIONS_DIR = Path(__file__).resolve().with_name("migrations")
#: PostgreSQL advisory lock key held while migrating ("windvane" in ASCII).
_PG_LOCK_KEY = 0x77696E6476616E65
_VERSION_TABLE = "alembic_version"


@dataclass(frozen=True, slots=True)
class SchemaStatus:
    """Where the database schema stands: ``current`` is None for an empty database."""

    current: str | None
    head: str

    @property
    def is_current(self) -> bool:
        """True when the database is at the newest revision."""
        return self.current == self.head


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic configuration for Windvane's migrations, bound to ``connection`` if given."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest revision among the migration scripts."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise StoreError(f"no migration scripts found in {str(MIGRATIONS_DIR)!r}")
    return head


def migrate(engine: Engine, *, default_pool_slots: int = DEFAULT_POOL_SLOTS) -> None:
    """Create the schema, or upgrade it to head; then create ``default_pool`` if missing.

    Safe to run again (and concurrently): an up-to-date database is left as is.
    """
    with begin_write(engine) as conn:
        _lock(conn)
        command.upgrade(alembic_config(conn), "head")
        ensure_pool(conn, DEFAULT_POOL, default_pool_slots, description="Default pool")


def check(engine: Engine) -> SchemaStatus:
    """The database's revision next to the newest one (nothing is changed)."""
    with begin_read(engine) as conn:
        current = MigrationContext.configure(conn).get_current_revision()
    return SchemaStatus(current=current, head=head_revision())


def require_current(engine: Engine) -> None:
    """Raise :class:`StoreError` unless the schema is at head (for services at startup)."""
    status = check(engine)
    if not status.is_current:
        found = "an empty database" if status.current is None else f"revision {status.current!r}"
        raise StoreError(
            f"the metadata database {engine.url.render_as_string(hide_password=True)!r} is at {found}, "
            f"expected revision {status.head!r}: run the database migration first"
        )


def drop_all(engine: Engine) -> None:
    """Drop Windvane's tables and ``alembic_version`` (all data is lost).

    Other tables in the database are left alone.
    """
    names = {*metadata.tables, _VERSION_TABLE}
    with begin_write(engine) as conn:
        _lock(conn)
        existing = MetaData()
        existing.reflect(conn, only=lambda name, _: name in names)
        existing.drop_all(conn)


def reset(engine: Engine, *, default_pool_slots: int = DEFAULT_POOL_SLOTS) -> None:
    """Drop everything (all data is lost), then :func:`migrate`."""
    drop_all(engine)
    migrate(engine, default_pool_slots=default_pool_slots)


def _lock(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
