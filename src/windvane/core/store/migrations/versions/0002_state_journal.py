"""The state-change journal: ``state_journal`` and ``journal_consumer``.

A frozen snapshot like 0001: later changes go in new revisions.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 00:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None

UTC = sa.DateTime(timezone=True)
ID = sa.String(250)
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "state_journal",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("recorded_at", UTC, nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("reason", sa.String(50)),
        sa.Column("dag_id", ID, nullable=False),
        sa.Column("run_id", ID, nullable=False),
        sa.Column("dag_run_id", sa.Integer(), nullable=False),
        sa.Column("task_id", ID),
        sa.Column("map_index", sa.Integer()),
        sa.Column("ti_id", BIG_ID),
        sa.Column("try_number", sa.Integer()),
        sa.Column("max_tries", sa.Integer()),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("error", sa.Text()),
        sa.Column("next_retry_at", UTC),
        sa.Column("hostname", sa.String(1000)),
        sa.PrimaryKeyConstraint("id", name="pk_state_journal"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_state_journal_recorded_at", "state_journal", ["recorded_at"])

    op.create_table(
        "journal_consumer",
        sa.Column("name", sa.String(250), nullable=False),
        sa.Column("last_read_id", BIG_ID, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_journal_consumer"),
    )


def downgrade() -> None:
    op.drop_table("journal_consumer")
    op.drop_index("ix_state_journal_recorded_at", table_name="state_journal")
    op.drop_table("state_journal")
