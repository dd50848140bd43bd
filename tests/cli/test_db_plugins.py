"""``windvane db migrate | check | reset`` with an installed plug-in that owns a table."""

from __future__ import annotations

import secrets
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import inspect

from tests.plugins.helpers import write_distribution, write_package
from windvane.core.store.engine import create_db_engine
from windvane.core.store.migrate import head_revision, head_revisions
from windvane.plugins import MIGRATIONS_GROUP

from .conftest import RunCli

REVISION = """\
    import sqlalchemy as sa
    from alembic import op

    revision = "{name}_0001"
    down_revision = None
    branch_labels = ("{name}",)
    depends_on = "{core}"


    def upgrade():
        op.create_table("{name}_widget", sa.Column("id", sa.Integer, primary_key=True))


    def downgrade():
        op.drop_table("{name}_widget")
"""


class Plugin:
    """A distribution whose migrations create ``<name>_widget``; :meth:`install` puts it on sys.path."""

    def __init__(self, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.name = name = f"wv_tables_{secrets.token_hex(4)}"
        self.root = root
        self.monkeypatch = monkeypatch
        write_package(
            root,
            {
                f"{name}/__init__.py": "",
                f"{name}/versions/__init__.py": "",
                f"{name}/versions/r0001.py": REVISION.format(name=name, core=head_revision()),
            },
        )
        write_distribution(root, name, {MIGRATIONS_GROUP: {name: f"{name}.versions"}})

    def install(self) -> None:
        self.monkeypatch.syspath_prepend(str(self.root))


@pytest.fixture
def plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Plugin]:
    made = Plugin(tmp_path / "site", monkeypatch)
    yield made
    for module in [m for m in sys.modules if m.startswith(made.name)]:
        del sys.modules[module]


def test_migrate_upgrades_core_and_the_plugin_and_check_wants_both(
    run_cli: RunCli, home: Path, plugin: Plugin
) -> None:
    assert run_cli("db", "migrate").code == 0  # core only: the plug-in is not installed yet
    installed = head_revisions()  # core's and Windvane's own plug-in branches (alerting)
    plugin.install()
    both = ", ".join(sorted((*installed, f"{plugin.name}_0001")))

    check = run_cli("db", "check-migrations")
    assert check.code == 1
    assert f"is at revision {', '.join(installed)}; the newest revision is {both}" in check.out

    migrated = run_cli("db", "migrate")
    assert migrated.code == 0 and f"is at revision {both}." in migrated.out
    check = run_cli("db", "check-migrations")
    assert check.code == 0 and f"is current (revision {both})" in check.out
    engine = create_db_engine(f"sqlite:///{home / 'windvane.db'}")
    try:
        assert f"{plugin.name}_widget" in inspect(engine).get_table_names()
        assert run_cli("db", "reset", "--yes").code == 0  # the plug-in's table is dropped and made again
        assert f"{plugin.name}_widget" in inspect(engine).get_table_names()
        assert run_cli("db", "check-migrations").code == 0
    finally:
        engine.dispose()
