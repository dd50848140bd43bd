"""The migrated schema must equal ``tables.py``, on both backends."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Column, Engine, Integer, MetaData, Table, text

from windvane.core.store.tables import metadata

PARTIAL_INDEXES = {
    "ix_dag_run_active": "state IN ('queued', 'running')",
    "ix_task_instance_active": (
        "state IN ('scheduled', 'queued', 'running', 'up_for_retry', 'up_for_reschedule')"
    ),
}


def test_migrated_schema_matches_tables_py(engine: Engine) -> None:
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={
                "compare_type": True,
                "compare_server_default": True,
                # plug-ins' tables (alerting) are compared by their own tests
                "include_name": lambda name, kind, _parent: kind != "table" or name in metadata.tables,
            },
        )
        assert compare_metadata(context, metadata) == []


def test_the_comparison_does_see_drift(engine: Engine) -> None:
    drifted = MetaData(naming_convention=metadata.naming_convention)
    for table in metadata.tables.values():
        table.to_metadata(drifted)
    Table("dag", drifted, Column("extra", Integer), extend_existing=True)
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"include_name": lambda name, kind, _parent: kind != "table" or name in drifted.tables}
        )
        diff = compare_metadata(context, drifted)
    assert [(d[0], d[3].name) for d in diff] == [("add_column", "extra")]


def test_partial_indexes_exist_with_their_condition(engine: Engine) -> None:
    if engine.dialect.name == "sqlite":
        query = "SELECT name, sql FROM sqlite_master WHERE type = 'index'"
    else:
        query = "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema()"
    with engine.connect() as conn:
        definitions = {name: sql for name, sql in conn.execute(text(query))}
    for name, condition in PARTIAL_INDEXES.items():
        definition = " ".join(str(definitions[name]).split())
        if engine.dialect.name == "sqlite":
            assert f"WHERE {condition}" in definition
        else:  # PostgreSQL rewrites IN (...) as = ANY (ARRAY[...])
            assert "WHERE" in definition
            for state in condition.split("(")[1].rstrip(")").split(", "):
                assert state in definition
