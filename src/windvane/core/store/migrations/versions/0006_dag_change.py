"""``dag_change``: a counter database triggers raise on every change to a ``dag`` row the scheduler reads.

The scheduler polls DAG rows every ``poll_interval_seconds``; reading them all made its idle cost
grow with the number of DAGs. It now reads the one ``dag_change`` row and reads DAG rows only when
``seq`` moved. Triggers, not the writers, raise it, so no writer (processor, CLI, API, the
scheduler's own ``next_dagrun`` update) can forget to: an insert or a delete, or an update that
changes ``fileloc``, ``dag_hash``, ``is_paused``, ``is_active`` or a ``next_dagrun_*`` column (a
re-parse that changed nothing but ``last_parsed_at`` does not count).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 04:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
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
_BUMP = "UPDATE dag_change SET seq = seq + 1 WHERE id = 1"


def upgrade() -> None:
    op.create_table(
        "dag_change",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_dag_change"),
    )
    op.execute("INSERT INTO dag_change (id, seq) VALUES (1, 0)")
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


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute("DROP TRIGGER dag_change_update ON dag")
        op.execute("DROP TRIGGER dag_change_insert_delete ON dag")
        op.execute("DROP FUNCTION IF EXISTS dag_change_bump()")
    else:
        for name in ("dag_change_insert", "dag_change_delete", "dag_change_update"):
            op.execute(f"DROP TRIGGER {name}")
    op.drop_table("dag_change")
