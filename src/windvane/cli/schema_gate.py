"""A fast "is the schema current?" for every command that opens the database.

:func:`windvane.core.store.migrate.require_current` asks Alembic, whose import
(with Mako and Pygments) costs more than the rest of ``windvane dags list``. The
answer is nearly always "yes", and that case needs no Alembic: the database is
current when the revisions in ``alembic_version``, with the revisions they rest
on (``down_revision`` and ``depends_on``: Alembic leaves implied ones out of the
table), include every head of the migration scripts (core's and each
``windvane.migrations`` plug-in's folder), and the table names no unknown
revision. :func:`read_scripts` reads the graph from the scripts' assignments
without importing them. Any other answer, or
anything unexpected (a missing table, a script it cannot read), falls back to
Alembic, which gives the precise error. ``tests/cli/test_schema_gate.py`` keeps
:func:`script_heads` equal to Alembic's heads.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from windvane.errors import PluginError
from windvane.plugins import MIGRATIONS_GROUP, entry_points_of, load_entry_point

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from windvane.core.store.raw import RawDb

#: Core's revisions (``windvane.core.store.migrate.CORE_VERSIONS_DIR``, without importing Alembic).
CORE_VERSIONS_DIR = Path(__file__).resolve().parents[1] / "core" / "store" / "migrations" / "versions"


def version_folders() -> list[Path]:
    """Core's revisions folder and each migrations plug-in's package folder."""
    folders = [CORE_VERSIONS_DIR]
    for entry in entry_points_of(MIGRATIONS_GROUP):
        package = load_entry_point(entry, MIGRATIONS_GROUP)
        paths = list(getattr(package, "__path__", ())) if isinstance(package, ModuleType) else []
        if not paths:
            raise PluginError(f"migrations entry point {entry.name!r} does not name a package")
        folders.append(Path(paths[0]))
    return folders


def _strings(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    return tuple(str(v) for v in value) if isinstance(value, tuple | list) else ()


def _revision_of(path: Path) -> tuple[str, tuple[str, ...], tuple[str, ...]] | None:
    """``(revision, down_revisions, depends_on)`` assigned at the top of a script; None if it is none."""
    found: dict[str, object] = {}
    for node in ast.parse(path.read_text(encoding="utf-8"), str(path)).body:
        target, value = None, None
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign):
            target, value = node.target, node.value
        if isinstance(target, ast.Name) and target.id in _NAMES and value is not None:
            found[target.id] = ast.literal_eval(value)
    revision = found.get("revision")
    if not isinstance(revision, str):
        return None
    return revision, _strings(found.get("down_revision")), _strings(found.get("depends_on"))


_NAMES = ("revision", "down_revision", "depends_on")


@dataclass(frozen=True)
class Scripts:
    """The revision graph: each revision's parents (``down_revision`` and ``depends_on``), and the heads."""

    parents: dict[str, tuple[str, ...]]
    heads: frozenset[str]

    def reached(self, applied: Iterable[str]) -> set[str]:
        """``applied`` and everything it rests on (what Alembic leaves out of ``alembic_version``)."""
        seen: set[str] = set()
        todo = list(applied)
        while todo:
            revision = todo.pop()
            if revision not in seen:
                seen.add(revision)
                todo.extend(self.parents.get(revision, ()))
        return seen


def read_scripts(folders: Iterable[Path]) -> Scripts:
    """The revision graph of the scripts in ``folders`` (read, not imported)."""
    parents: dict[str, tuple[str, ...]] = {}
    downs: set[str] = set()
    for folder in folders:
        for path in sorted(folder.glob("*.py")):
            found = _revision_of(path) if path.name != "__init__.py" else None
            if found is not None:
                revision, down, depends = found
                parents[revision] = (*down, *depends)
                downs.update(down)
    return Scripts(parents, frozenset(set(parents) - downs))


def script_heads(folders: Iterable[Path]) -> frozenset[str]:
    """The revisions no other revision names as its ``down_revision``."""
    return read_scripts(folders).heads


def looks_current(engine: Engine) -> bool:
    """True when the revisions in ``alembic_version`` (with what they rest on) include every head
    and no revision the scripts do not know; False when unsure."""
    from sqlalchemy import text
    from sqlalchemy.exc import SQLAlchemyError

    try:
        scripts = read_scripts(version_folders())
        with engine.connect() as conn:
            applied = set(conn.execute(text("SELECT version_num FROM alembic_version")).scalars())
    except (SQLAlchemyError, PluginError, OSError, SyntaxError, ValueError):
        return False
    return is_current(scripts, applied)


def raw_looks_current(db: RawDb) -> bool:
    """:func:`looks_current` over a SQLAlchemy-free connection (``windvane dags list``): False when
    unsure, including when the database cannot be read at all (the caller then asks the engine,
    whose error names what is wrong)."""
    from windvane.core.store.lists_sql import applied_revisions

    try:
        scripts = read_scripts(version_folders())
        applied = db.read(applied_revisions)
    except Exception:  # any doubt is "not sure": the slow path gives the precise error
        return False
    return is_current(scripts, applied)


def is_current(scripts: Scripts, applied: set[str]) -> bool:
    """The schema is current: ``applied`` (the revisions in ``alembic_version``) names only known
    revisions and, with what they rest on, every head."""
    known = applied <= set(scripts.parents)
    return bool(scripts.heads) and known and scripts.heads <= scripts.reached(applied)
