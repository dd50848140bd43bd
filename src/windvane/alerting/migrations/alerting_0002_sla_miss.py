"""SLA misses and run deadline misses: ``sla_miss``.

Needs core's 0003 (``task_instance.sla_due_at``, ``dag_run.deadline_at``). A frozen
snapshot: later changes go in new revisions.

Revision ID: alerting_0002
Revises: alerting_0001
Create Date: 2026-12-06 23:55:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "alerting_0002"
down_revision: str | None = "alerting_0001"
branch_labels: tuple[str, ...] | None = None
depends_on: str | None = "0003"

UTC = sa.DateTime(timezone=True)
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "sla_miss",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("dag_id", sa.String(250), nullable=False),
        sa.Column("run_id", sa.String(250), nullable=False),
        sa.Column("dag_run_id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.String(250), nullable=False),
        sa.Column("run_type", sa.String(20), nullable=False),
        sa.Column("logical_date", UTC, nullable=False),
        sa.Column("due_at", UTC, nullable=False),
        sa.Column("detected_at", UTC, nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("recovered_at", UTC),
        sa.Column("callback_done_at", UTC),
        sa.Column("callback_claimed_until", UTC),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("dag_run_id", "task_id", name="uq_sla_miss_dag_run_id_task_id"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_sla_miss_dag_id_detected_at", "sla_miss", ["dag_id", "detected_at"])
    op.create_index(
        "ix_sla_miss_callback_pending",
        "sla_miss",
        ["dag_id"],
        postgresql_where=sa.text("callback_done_at IS NULL"),
        sqlite_where=sa.text("callback_done_at IS NULL"),
    )
    op.create_index(
        "ix_sla_miss_unrecovered",
        "sla_miss",
        ["detected_at"],
        postgresql_where=sa.text("recovered_at IS NULL"),
        sqlite_where=sa.text("recovered_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_sla_miss_unrecovered", table_name="sla_miss")
    op.drop_index("ix_sla_miss_callback_pending", table_name="sla_miss")
    op.drop_index("ix_sla_miss_dag_id_detected_at", table_name="sla_miss")
    op.drop_table("sla_miss")
