"""A fast "is the schema current?" for every command that opens the database.

:func:`windvane.core.store.migrate.require_current` asks Alembic, whose import
(with Mako and Pygments) costs more than the rest of ``windvane dags list``. The
answer is nearly always "yes", and that case needs no Alembic: the database is
current when the revisions in ``alembic_version`` are exactly the heads of the
migration scripts (core's and each ``windvane.migrations`` plug-in's folder),
which :func:`script_heads` reads from the scripts' ``revision`` and
``down_revision`` assignments without importing them. Any other answer, or
anything unexpected (a missing table, a script it cannot read), falls back to
Alembic, which gives the precise error. ``tests/cli/test_schema_gate.py`` keeps
:func:`script_heads` equal to Alembic's heads.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType

from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from windvane.errors import PluginError
from windvane.plugins import MIGRATIONS_GROUP, entry_points_of, load_entry_point

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


def _revision_of(path: Path) -> tuple[str, tuple[str, ...]] | None:
    """``(revision, down_revisions)`` assigned at the top of a script; None if it is not a revision."""
    found: dict[str, object] = {}
    for node in ast.parse(path.read_text(encoding="utf-8"), str(path)).body:
        target, value = None, None
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign):
            target, value = node.target, node.value
        if isinstance(target, ast.Name) and target.id in ("revision", "down_revision") and value is not None:
            found[target.id] = ast.literal_eval(value)
    revision, down = found.get("revision"), found.get("down_revision")
    if not isinstance(revision, str):
        return None
    downs = (down,) if isinstance(down, str) else tuple(down) if isinstance(down, tuple | list) else ()
    return revision, tuple(str(d) for d in downs)


def script_heads(folders: Iterable[Path]) -> frozenset[str]:
    """The revisions no other revision names as its ``down_revision``."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for folder in folders:
        for path in sorted(folder.glob("*.py")):
            if path.name == "__init__.py":
                continue
            found = _revision_of(path)
            if found is not None:
                revisions.add(found[0])
                parents.update(found[1])
    return frozenset(revisions - parents)


def looks_current(engine: Engine) -> bool:
    """True when ``alembic_version`` holds exactly the scripts' heads; False when unsure."""
    try:
        heads = script_heads(version_folders())
        with engine.connect() as conn:
            applied = frozenset(conn.execute(text("SELECT version_num FROM alembic_version")).scalars())
    except (SQLAlchemyError, PluginError, OSError, SyntaxError, ValueError):
        return False
    return bool(heads) and applied == heads
