"""``dag.change_seq`` and ``dag_change.deleted_seq``: the scheduler reads only the DAG rows that changed.

Migration 0006 made an idle scheduler read one counter instead of every DAG row, but any change
(the scheduler's own ``next_dagrun`` update after each run it creates) still made it read them
all. Now the same triggers also stamp the changed row with the counter's new value
(``dag.change_seq``, indexed), so the scheduler reads ``WHERE change_seq > <last seq read>``; a
deleted row cannot be stamped, so a delete also sets ``dag_change.deleted_seq`` and the scheduler
reads every row when that moved. The counter's row lock orders the stamps: a committed stamp
``s`` means every stamp below ``s`` is committed too.

PostgreSQL: an update is stamped by a ``BEFORE UPDATE`` trigger (``NEW.change_seq``, no second
write of the row); an insert by an ``AFTER INSERT`` trigger (a ``BEFORE INSERT`` one would also
fire for an upsert that ends as an update of an unchanged row). SQLite: ``AFTER`` triggers that
update the row (their own update changes no column the update trigger watches).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 06:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | None = None
depends_on: str | None = None

_READ = (
    "fileloc",
    "dag_hash",
    "is_paused",
    "is_active",
    "next_dagrun_logical_date",
    "next_dagrun_data_interval_start",
    "next_dagrun_data_interval_end",
    "next_dagrun_create_after",
)
_SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_BUMP = "UPDATE dag_change SET seq = seq + 1 WHERE id = 1"
_STAMP = "UPDATE dag SET change_seq = (SELECT seq FROM dag_change WHERE id = 1) WHERE dag_id = NEW.dag_id"
_DELETED = "UPDATE dag_change SET seq = seq + 1, deleted_seq = seq + 1 WHERE id = 1"


def upgrade() -> None:
    op.add_column("dag", sa.Column("change_seq", _SEQ, nullable=False, server_default="0"))
    op.create_index("ix_dag_change_seq", "dag", ["change_seq"])
    op.add_column("dag_change", sa.Column("deleted_seq", _SEQ, nullable=False, server_default="0"))
    _drop_0006_triggers()
    if op.get_context().dialect.name == "postgresql":
        changed = " OR ".join(f"OLD.{c} IS DISTINCT FROM NEW.{c}" for c in _READ)
        op.execute(
            "CREATE FUNCTION dag_change_stamp() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN {_BUMP} RETURNING seq INTO NEW.change_seq; RETURN NEW; END $$"
        )
        op.execute(
            "CREATE FUNCTION dag_change_inserted() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN {_BUMP}; {_STAMP}; RETURN NULL; END $$"
        )
        op.execute(
            "CREATE FUNCTION dag_change_deleted() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN {_DELETED}; RETURN NULL; END $$"
        )
        op.execute(
            f"CREATE TRIGGER dag_change_update BEFORE UPDATE ON dag FOR EACH ROW WHEN ({changed}) "
            "EXECUTE FUNCTION dag_change_stamp()"
        )
        op.execute(
            "CREATE TRIGGER dag_change_insert AFTER INSERT ON dag FOR EACH ROW "
            "EXECUTE FUNCTION dag_change_inserted()"
        )
        op.execute(
            "CREATE TRIGGER dag_change_delete AFTER DELETE ON dag FOR EACH ROW "
            "EXECUTE FUNCTION dag_change_deleted()"
        )
        return
    changed = " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in _READ)
    op.execute(f"CREATE TRIGGER dag_change_insert AFTER INSERT ON dag BEGIN {_BUMP}; {_STAMP}; END")
    op.execute(f"CREATE TRIGGER dag_change_delete AFTER DELETE ON dag BEGIN {_DELETED}; END")
    op.execute(
        f"CREATE TRIGGER dag_change_update AFTER UPDATE ON dag WHEN {changed} BEGIN {_BUMP}; {_STAMP}; END"
    )


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        for name in ("dag_change_update", "dag_change_insert", "dag_change_delete"):
            op.execute(f"DROP TRIGGER {name} ON dag")
        for fn in ("dag_change_stamp", "dag_change_inserted", "dag_change_deleted"):
            op.execute(f"DROP FUNCTION IF EXISTS {fn}()")
    else:
        for name in ("dag_change_insert", "dag_change_delete", "dag_change_update"):
            op.execute(f"DROP TRIGGER {name}")
    op.drop_column("dag_change", "deleted_seq")
    op.drop_index("ix_dag_change_seq", "dag")
    op.drop_column("dag", "change_seq")
    _recreate_0006_triggers()


def _drop_0006_triggers() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute("DROP TRIGGER dag_change_update ON dag")
        op.execute("DROP TRIGGER dag_change_insert_delete ON dag")
        op.execute("DROP FUNCTION IF EXISTS dag_change_bump()")
        return
    for name in ("dag_change_insert", "dag_change_delete", "dag_change_update"):
        op.execute(f"DROP TRIGGER {name}")


def _recreate_0006_triggers() -> None:
    if op.get_context().dialect.name == "postgresql":
        changed = " OR ".join(f"OLD.{c} IS DISTINCT FROM NEW.{c}" for c in _READ)
        op.execute(
            "CREATE OR REPLACE FUNCTION dag_change_bump() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN {_BUMP}; RETURN NULL; END $$"
        )
        op.execute(
            "CREATE TRIGGER dag_change_insert_delete AFTER INSERT OR DELETE ON dag "
            "FOR EACH ROW EXECUTE FUNCTION dag_change_bump()"
        )
        op.execute(
            f"CREATE TRIGGER dag_change_update AFTER UPDATE ON dag FOR EACH ROW WHEN ({changed}) "
            "EXECUTE FUNCTION dag_change_bump()"
        )
        return
    changed = " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in _READ)
    op.execute(f"CREATE TRIGGER dag_change_insert AFTER INSERT ON dag BEGIN {_BUMP}; END")
    op.execute(f"CREATE TRIGGER dag_change_delete AFTER DELETE ON dag BEGIN {_BUMP}; END")
    op.execute(f"CREATE TRIGGER dag_change_update AFTER UPDATE ON dag WHEN {changed} BEGIN {_BUMP}; END")
