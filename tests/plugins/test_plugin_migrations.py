"""A plug-in owns tables: its Alembic branch is migrated, checked and dropped with core's."""

from __future__ import annotations

import importlib.metadata
import secrets
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, inspect

from windvane.core.store.engine import create_db_engine
from windvane.core.store.migrate import (
    check,
    drop_all,
    head_revision,
    head_revisions,
    migrate,
    plugin_version_locations,
    require_current,
    reset,
)
from windvane.core.store.tables import metadata
from windvane.errors import PluginError, StoreError
from windvane.plugins import MIGRATIONS_GROUP

from .helpers import FakeEntryPoint, FakeLoader, write_package

FIRST = '''\
    """The widget table.

    Revision ID: {prefix}_0001
    """
    import sqlalchemy as sa
    from alembic import op

    revision = "{prefix}_0001"
    down_revision = None
    branch_labels = ("{prefix}",)
    depends_on = "{core}"


    def upgrade():
        op.create_table("{prefix}_widget", sa.Column("id", sa.Integer, primary_key=True))


    def downgrade():
        op.drop_table("{prefix}_widget")
'''
SECOND = '''\
    """The gadget table.

    Revision ID: {prefix}_0002
    """
    import sqlalchemy as sa
    from alembic import op

    revision = "{prefix}_0002"
    down_revision = "{prefix}_0001"
    branch_labels = None
    depends_on = None


    def upgrade():
        op.create_table("{prefix}_gadget", sa.Column("id", sa.Integer, primary_key=True))


    def downgrade():
        op.drop_table("{prefix}_gadget")
'''


class Plugin:
    """A tiny plug-in package under ``tmp_path`` whose ``migrations`` folder holds one branch."""

    def __init__(self, root: Path) -> None:
        self.name = f"wv_plugin_{secrets.token_hex(4)}"
        self.folder = root / self.name / "migrations"
        write_package(root, {f"{self.name}/__init__.py": "", f"{self.name}/migrations/__init__.py": ""})
        self.add(FIRST)
        entry = importlib.metadata.EntryPoint(
            name=self.name, value=f"{self.name}.migrations", group=MIGRATIONS_GROUP
        )
        self.loader = FakeLoader({MIGRATIONS_GROUP: [entry]})

    def add(self, template: str) -> None:
        number = len(list(self.folder.glob("r*.py"))) + 1
        source = template.format(prefix=self.name, core=head_revision())
        write_package(self.folder, {f"r{number:04d}.py": source})

    def tables(self, engine: Engine) -> set[str]:
        return {name for name in inspect(engine).get_table_names() if name.startswith(self.name)}


@pytest.fixture
def plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Plugin]:
    monkeypatch.syspath_prepend(str(tmp_path))
    made = Plugin(tmp_path)
    yield made
    for module in [name for name in sys.modules if name.startswith(made.name)]:
        del sys.modules[module]


@pytest.fixture
def blank(db_url: str, plugin: Plugin) -> Iterator[Engine]:
    """An engine on a blank database, with the plug-in's tables dropped again at the end."""
    engine = create_db_engine(db_url)
    yield engine
    drop_all(engine, plugins=plugin.loader)
    engine.dispose()


def test_migrate_upgrades_the_plugin_branch_beside_core(blank: Engine, plugin: Plugin) -> None:
    assert plugin_version_locations(plugin.loader) == (plugin.folder,)
    heads = head_revisions(plugin.loader)
    assert heads == tuple(sorted((head_revision(), f"{plugin.name}_0001")))
    before = check(blank, plugins=plugin.loader)
    assert not before.is_current and before.current is None and before.missing == heads

    migrate(blank, plugins=plugin.loader)

    after = check(blank, plugins=plugin.loader)
    assert after.is_current and after.missing == () and after.heads == heads
    assert plugin.tables(blank) == {f"{plugin.name}_widget"}
    assert set(metadata.tables) <= set(inspect(blank).get_table_names())
    require_current(blank, plugins=plugin.loader)


def test_check_is_current_only_when_every_head_is_applied(blank: Engine, plugin: Plugin) -> None:
    migrate(blank, plugins=FakeLoader({}))  # core only: the plug-in's branch is missing
    status = check(blank, plugins=plugin.loader)
    assert not status.is_current and status.missing == (f"{plugin.name}_0001",)
    with pytest.raises(StoreError, match=r"expected revision .*: run 'windvane db migrate' to upgrade it"):
        require_current(blank, plugins=plugin.loader)

    migrate(blank, plugins=plugin.loader)
    plugin.add(SECOND)  # the plug-in's next release
    status = check(blank, plugins=plugin.loader)
    assert not status.is_current and status.missing == (f"{plugin.name}_0002",)

    migrate(blank, plugins=plugin.loader)
    assert check(blank, plugins=plugin.loader).is_current
    assert plugin.tables(blank) == {f"{plugin.name}_widget", f"{plugin.name}_gadget"}


def test_a_missing_plugin_makes_the_schema_unknown(blank: Engine, plugin: Plugin) -> None:
    migrate(blank, plugins=plugin.loader)
    without = check(blank, plugins=FakeLoader({}))
    assert not without.is_current and without.unknown == (f"{plugin.name}_0001",)
    with pytest.raises(
        StoreError, match=r"no migration script knows .* is a plug-in that owns tables missing"
    ):
        require_current(blank, plugins=FakeLoader({}))


def test_drop_all_and_reset_drop_the_plugins_tables(blank: Engine, plugin: Plugin) -> None:
    reset(blank, plugins=plugin.loader)  # on an empty database
    migrate(blank, plugins=plugin.loader)
    reset(blank, plugins=plugin.loader)
    assert check(blank, plugins=plugin.loader).is_current
    drop_all(blank, plugins=plugin.loader)
    assert inspect(blank).get_table_names() == []


def test_an_entry_point_that_names_no_package_is_an_error_naming_it() -> None:
    loader = FakeLoader({MIGRATIONS_GROUP: [FakeEntryPoint("odd", "odd:thing", target=object())]})
    with pytest.raises(PluginError, match=r"entry point 'odd = odd:thing' .* must name a package"):
        plugin_version_locations(loader)
