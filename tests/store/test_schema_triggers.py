"""The triggers the schema relies on exist at head, and a migration that loses one cannot pass unnoticed.

SQLite drops a table's triggers when Alembic's batch mode rebuilds it: a later migration doing that
to ``task_instance`` would silently stop the worker's finish journal rows. ``migrate`` checks the
triggers at its end (rolling the upgrade back), and ``batch_alter_table_keeping_triggers`` keeps them.
"""

from __future__ import annotations

import importlib.metadata
import secrets
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, inspect, select

from tests.plugins.helpers import FakeLoader, write_package
from windvane.core.model.outcome import TryOutcome
from windvane.core.model.states import TaskInstanceState as S
from windvane.core.store.engine import begin_read, create_db_engine
from windvane.core.store.migrate import check, drop_all, head_revision, migrate
from windvane.core.store.raw import RawDb
from windvane.core.store.schema_triggers import REQUIRED_TRIGGERS, existing_triggers
from windvane.core.store.tables import state_journal
from windvane.core.store.try_claim import claim_try
from windvane.core.store.try_lifecycle import finish_try
from windvane.errors import StoreError
from windvane.plugins import MIGRATIONS_GROUP
from windvane.testing import queued_try

# A later migration rebuilding task_instance: on SQLite batch mode copies the table (recreate
# "always"); PostgreSQL alters in place, so there the loss is spelled out.
REBUILD = """\
    import sqlalchemy as sa
    from alembic import op
    {import_helper}

    revision = "{name}_0001"
    down_revision = None
    branch_labels = ("{name}",)
    depends_on = "{core}"


    def rebuild():
        return "always" if op.get_context().dialect.name == "sqlite" else "auto"


    def upgrade():
        with {batch}("task_instance", recreate=rebuild()) as batch:
            batch.add_column(sa.Column("{name}_probe", sa.Integer, nullable=True))
        if op.get_context().dialect.name == "postgresql" and {drop_on_pg}:
            op.execute("DROP TRIGGER state_journal_try_end ON task_instance")


    def downgrade():
        with {batch}("task_instance", recreate=rebuild()) as batch:
            batch.drop_column("{name}_probe")
"""


class LaterMigration:
    """A branch of one revision after core's head, in a package under ``root``."""

    def __init__(self, root: Path, *, keeping: bool) -> None:
        self.name = f"wv_rebuild_{secrets.token_hex(4)}"
        source = REBUILD.format(
            name=self.name,
            core=head_revision(),
            import_helper=(
                "from windvane.core.store.schema_triggers import batch_alter_table_keeping_triggers"
                if keeping
                else ""
            ),
            batch="batch_alter_table_keeping_triggers" if keeping else "op.batch_alter_table",
            drop_on_pg=not keeping,
        )
        write_package(
            root,
            {
                f"{self.name}/__init__.py": "",
                f"{self.name}/migrations/__init__.py": "",
                f"{self.name}/migrations/r0001.py": source,
            },
        )
        entry = importlib.metadata.EntryPoint(self.name, f"{self.name}.migrations", MIGRATIONS_GROUP)
        self.loader = FakeLoader({MIGRATIONS_GROUP: [entry]})


@pytest.fixture
def later(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[bool], LaterMigration]]:
    monkeypatch.syspath_prepend(str(tmp_path))
    yield lambda keeping: LaterMigration(tmp_path, keeping=keeping)
    for module in [name for name in sys.modules if name.startswith("wv_rebuild_")]:
        del sys.modules[module]


@pytest.fixture
def blank(db_url: str) -> Iterator[Engine]:
    engine = create_db_engine(db_url)
    yield engine
    engine.dispose()


def triggers(engine: Engine) -> dict[str, str]:
    with begin_read(engine) as conn:
        return existing_triggers(conn)


def test_the_head_schema_has_exactly_the_required_triggers(engine: Engine) -> None:
    assert triggers(engine) == REQUIRED_TRIGGERS


def test_a_migration_that_rebuilds_task_instance_without_its_trigger_fails_and_is_rolled_back(
    blank: Engine, later: Callable[[bool], LaterMigration]
) -> None:
    migrate(blank, plugins=FakeLoader({}))
    rebuild = later(False)
    with pytest.raises(StoreError) as caught:
        migrate(blank, plugins=rebuild.loader)
    message = str(caught.value)
    assert "trigger 'state_journal_try_end' on table 'task_instance'" in message
    assert "batch_alter_table_keeping_triggers" in message and "rolled back" in message
    # nothing of the failed upgrade stayed: the revision, the column, and the trigger as before
    assert check(blank, plugins=rebuild.loader).missing == (f"{rebuild.name}_0001",)
    assert f"{rebuild.name}_probe" not in {c["name"] for c in inspect(blank).get_columns("task_instance")}
    assert triggers(blank) == REQUIRED_TRIGGERS
    drop_all(blank, plugins=FakeLoader({}))


def test_a_batch_rebuild_through_the_helper_keeps_the_trigger_and_finishes_are_journaled(
    blank: Engine, later: Callable[[bool], LaterMigration]
) -> None:
    rebuild = later(True)
    migrate(blank, plugins=rebuild.loader)
    assert check(blank, plugins=rebuild.loader).is_current
    assert f"{rebuild.name}_probe" in {c["name"] for c in inspect(blank).get_columns("task_instance")}
    assert triggers(blank) == REQUIRED_TRIGGERS
    # and it still journals: a worker's one-statement finish writes its journal row
    wl = queued_try(blank, "/nowhere.py", "d", "t")
    db = RawDb(blank.url.render_as_string(hide_password=False))
    try:
        claim = claim_try(db, wl, hostname="w", pid=1)
        assert claim is not None
        finish_try(db, wl, TryOutcome(state=S.SUCCESS), start_date=claim.start_date)
    finally:
        db.close()
    with begin_read(blank) as conn:
        rows = conn.execute(select(state_journal.c.ti_id, state_journal.c.state)).all()
    assert [tuple(r) for r in rows] == [(wl.ti_id, "success")]
    drop_all(blank, plugins=rebuild.loader)
