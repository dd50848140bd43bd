"""The quick schema check agrees with Alembic, and falls back to it whenever it is unsure."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from windvane.cli.schema_gate import (
    CORE_VERSIONS_DIR,
    looks_current,
    raw_looks_current,
    script_heads,
    version_folders,
)
from windvane.core.store import migrate
from windvane.core.store.engine import begin_write, create_db_engine
from windvane.core.store.raw import RawDb
from windvane.errors import StoreError


def test_script_heads_are_alembics_heads() -> None:
    assert script_heads(version_folders()) == frozenset(migrate.head_revisions())
    assert CORE_VERSIONS_DIR == migrate.CORE_VERSIONS_DIR


def test_a_merge_revision_names_two_parents(tmp_path: Path) -> None:
    for name, body in {
        "a.py": 'revision = "a"\ndown_revision = None\n',
        "b.py": 'revision: str = "b"\ndown_revision = "a"\n',
        "c.py": 'revision = "c"\ndown_revision = "a"\n',
        "m.py": 'revision = "m"\ndown_revision = ("b", "c")\n',
        "helper.py": "X = 1\n",
    }.items():
        (tmp_path / name).write_text(body)
    assert script_heads([tmp_path]) == {"m"}


def test_looks_current_only_when_every_head_is_applied(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    engine = create_db_engine(url)
    raw = RawDb(url)

    def current() -> bool:
        """The engine's and the SQLAlchemy-free answers, which must agree."""
        verdict = looks_current(engine)
        assert raw_looks_current(raw) is verdict
        return verdict

    try:
        assert not current()  # no alembic_version table: Alembic will say what is wrong
        migrate.migrate(engine)
        assert current()
        for behind in ("alerting_0002", "0001"):  # a head is missing
            with begin_write(engine) as conn:
                conn.execute(text("DELETE FROM alembic_version"))
                conn.execute(text("INSERT INTO alembic_version VALUES (:v)"), {"v": behind})
            assert not current()
            with pytest.raises(StoreError, match="expected revision"):
                migrate.require_current(engine)
        with begin_write(engine) as conn:  # a revision no script knows (a newer Windvane's schema)
            conn.execute(text("INSERT INTO alembic_version VALUES ('alerting_0003'), ('9999')"))
        assert not current()
    finally:
        raw.close()
        engine.dispose()
