"""Create, upgrade, check and reset the metadata database schema.

Migrations are Alembic scripts in ``migrations/`` run programmatically: the
:class:`alembic.config.Config` is built here, no ``alembic.ini`` is read.
Each operation runs in one write transaction (DDL is transactional on both
SQLite and PostgreSQL); on PostgreSQL an advisory lock makes concurrent
``migrate`` calls from several processes queue instead of colliding.

Plug-ins own tables through the entry-point group ``windvane.migrations``:
each entry names a package whose folder holds Alembic revisions forming a
branch of their own (the root revision has ``down_revision = None``, a
``branch_labels`` entry and ``depends_on`` the core revision it needs).
:func:`migrate` upgrades every head; the schema is current only when every
head is applied. Every function takes ``plugins`` (the entry points to read;
``None``: the installed distributions).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, Engine, MetaData, text

from windvane.core.store.engine import begin_read, begin_write
from windvane.core.store.pools import DEFAULT_POOL, DEFAULT_POOL_SLOTS, ensure_pool
from windvane.core.store.schema_triggers import require_triggers
from windvane.core.store.tables import metadata
from windvane.errors import PluginError, StoreError
from windvane.plugins import MIGRATIONS_GROUP, EntryPointLoader, describe, entry_points_of, load_entry_point

MIGRATIONS_DIR = Path(__file__).resolve().with_name("migrations")
#: Core's revisions; plug-ins' folders are added to it.
CORE_VERSIONS_DIR = MIGRATIONS_DIR / "versions"
#: PostgreSQL advisory lock key held while migrating ("windvane" in ASCII).
_PG_LOCK_KEY = 0x77696E6476616E65
_VERSION_TABLE = "alembic_version"


@dataclass(frozen=True, slots=True)
class SchemaStatus:
    """Where the database schema stands.

    ``applied``: the revisions recorded in the database (empty for an empty
    database); ``heads``: the newest revision of core and of each plug-in
    branch; ``missing``: heads not applied yet; ``unknown``: applied revisions
    no migration script knows (a plug-in that was uninstalled, or a newer
    Windvane's schema).
    """

    applied: tuple[str, ...]
    heads: tuple[str, ...]
    missing: tuple[str, ...]
    unknown: tuple[str, ...] = ()

    @property
    def current(self) -> str | None:
        """The applied revisions and the heads they include, comma-separated; None for an empty database."""
        reached = {head for head in self.heads if head not in self.missing} if self.applied else set()
        return ", ".join(sorted({*self.applied, *reached})) or None

    @property
    def head(self) -> str:
        """The heads, comma-separated (one revision without plug-ins)."""
        return ", ".join(self.heads)

    @property
    def is_current(self) -> bool:
        """True when every head is applied and every applied revision is known."""
        return not self.missing and not self.unknown


def plugin_version_locations(plugins: EntryPointLoader | None = None) -> tuple[Path, ...]:
    """The folders of the plug-ins' Alembic revisions (entry-point group ``windvane.migrations``).

    Raises :class:`~windvane.errors.PluginError` naming an entry point that does
    not load or does not name a package.
    """
    folders = []
    for entry in entry_points_of(MIGRATIONS_GROUP, plugins):
        package = load_entry_point(entry, MIGRATIONS_GROUP)
        paths = list(getattr(package, "__path__", ())) if isinstance(package, ModuleType) else []
        if not paths:
            raise PluginError(
                f"{describe(entry, MIGRATIONS_GROUP)} must name a package whose folder holds "
                f"Alembic revisions, not {package!r}"
            )
        folders.append(Path(paths[0]))
    return tuple(folders)


def alembic_config(
    connection: Connection | None = None,
    *,
    plugins: EntryPointLoader | None = None,
    version_locations: Sequence[Path] | None = None,
) -> Config:
    """Alembic configuration for core's and the plug-ins' migrations, bound to ``connection`` if given.

    ``version_locations`` replaces the plug-ins' folders (core's comes first either way).
    """
    extra = plugin_version_locations(plugins) if version_locations is None else tuple(version_locations)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    config.set_main_option("version_locations", os.pathsep.join(map(str, (CORE_VERSIONS_DIR, *extra))))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest revision of core's own migrations (plug-ins' branches aside)."""
    head = ScriptDirectory.from_config(alembic_config(version_locations=())).get_current_head()
    if head is None:
        raise StoreError(f"no migration scripts found in {str(CORE_VERSIONS_DIR)!r}")
    return head


def head_revisions(plugins: EntryPointLoader | None = None) -> tuple[str, ...]:
    """The newest revision of core and of every plug-in branch, sorted."""
    return tuple(sorted(ScriptDirectory.from_config(alembic_config(plugins=plugins)).get_heads()))


def migrate(
    engine: Engine, *, default_pool_slots: int = DEFAULT_POOL_SLOTS, plugins: EntryPointLoader | None = None
) -> None:
    """Create the schema, or upgrade core and every plug-in branch to head; then create
    ``default_pool`` if missing.

    Safe to run again (and concurrently): an up-to-date database is left as is. Raises
    :class:`StoreError` naming the trigger and its table when a trigger the schema relies on is
    missing at the end (:mod:`windvane.core.store.schema_triggers`); the upgrade is then rolled back.
    """
    config = alembic_config(plugins=plugins)
    with begin_write(engine) as conn:
        _lock(conn)
        config.attributes["connection"] = conn
        command.upgrade(config, "heads")
        try:
            require_triggers(conn)
        except StoreError as exc:
            raise StoreError(f"{exc}; the upgrade was rolled back") from exc
        ensure_pool(conn, DEFAULT_POOL, default_pool_slots, description="Default pool")


def check(engine: Engine, *, plugins: EntryPointLoader | None = None) -> SchemaStatus:
    """The database's revisions next to the newest ones (nothing is changed)."""
    with begin_read(engine) as conn:
        applied = tuple(sorted(MigrationContext.configure(conn).get_current_heads()))
    script = ScriptDirectory.from_config(alembic_config(plugins=plugins))
    heads = tuple(sorted(script.get_heads()))
    unknown = tuple(rev for rev in applied if not _knows(script, rev))
    reached: set[str] = set()
    if not unknown and applied:
        reached = {rev.revision for rev in script.iterate_revisions(applied, "base") if rev is not None}
    missing = tuple(head for head in heads if head not in reached)
    return SchemaStatus(applied=applied, heads=heads, missing=missing, unknown=unknown)


def require_current(engine: Engine, *, plugins: EntryPointLoader | None = None) -> None:
    """Raise :class:`StoreError` unless every head is applied (for services at startup)."""
    status = check(engine, plugins=plugins)
    if status.is_current:
        return
    where = engine.url.render_as_string(hide_password=True)
    if status.unknown:
        raise StoreError(
            f"the metadata database {where!r} is at revision {status.current!r}, which no migration "
            f"script knows ({', '.join(status.unknown)}): is a plug-in that owns tables missing?"
        )
    if status.current is None:
        raise StoreError(
            f"the metadata database {where!r} is empty (no Windvane tables): "
            "run 'windvane db migrate' to create them"
        )
    raise StoreError(
        f"the metadata database {where!r} is at revision {status.current!r}, "
        f"expected revision {status.head!r}: run 'windvane db migrate' to upgrade it"
    )


def drop_all(engine: Engine, *, plugins: EntryPointLoader | None = None) -> None:
    """Drop Windvane's tables and ``alembic_version`` (all data is lost).

    Plug-ins' branches are first downgraded to their base (their own
    ``downgrade`` drops their tables). Other tables in the database are left alone.
    """
    names = {*metadata.tables, _VERSION_TABLE}
    config = alembic_config(plugins=plugins)
    with begin_write(engine) as conn:
        _lock(conn)
        config.attributes["connection"] = conn
        for label in _applied_plugin_branches(conn, config):
            command.downgrade(config, f"{label}@base")
        existing = MetaData()
        existing.reflect(conn, only=lambda name, _: name in names)
        existing.drop_all(conn)
        if conn.dialect.name == "postgresql":  # the trigger functions (0006, 0007) outlive their table
            for fn in ("dag_change_bump", "dag_change_stamp", "dag_change_inserted", "dag_change_deleted"):
                conn.exec_driver_sql(f"DROP FUNCTION IF EXISTS {fn}()")


def reset(
    engine: Engine, *, default_pool_slots: int = DEFAULT_POOL_SLOTS, plugins: EntryPointLoader | None = None
) -> None:
    """Drop everything (all data is lost), then :func:`migrate`."""
    drop_all(engine, plugins=plugins)
    migrate(engine, default_pool_slots=default_pool_slots, plugins=plugins)


def _knows(script: ScriptDirectory, revision: str) -> bool:
    try:
        script.get_revision(revision)
    except CommandError:
        return False
    return True


def _applied_plugin_branches(conn: Connection, config: Config) -> list[str]:
    """Branch labels of the plug-ins' root revisions whose branch is applied in the database."""
    applied = MigrationContext.configure(conn).get_current_heads()
    script = ScriptDirectory.from_config(config)
    if not applied or not all(_knows(script, rev) for rev in applied):
        return []
    reached = {rev.revision for rev in script.iterate_revisions(applied, "base") if rev is not None}
    core = CORE_VERSIONS_DIR.resolve()
    labels = []
    for rev in script.walk_revisions():
        if rev.down_revision is None and rev.revision in reached and Path(rev.path).resolve().parent != core:
            if not rev.branch_labels:
                raise StoreError(
                    f"plug-in migration {rev.path!r} starts a branch without a branch label: "
                    "its tables cannot be dropped"
                )
            labels.append(sorted(rev.branch_labels)[0])
    return labels


def _lock(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
