"""SLA and run deadlines: ``task_instance.sla_due_at``, ``dag_run.deadline_at``, each with a partial index.

Both are nullable (NULL: no ``sla`` / no ``deadline``); the partial indexes hold only
the rows that have one, so checking due deadlines stays cheap however long the history.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06 23:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None

UTC = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column("dag_run", sa.Column("deadline_at", UTC))
    op.add_column("task_instance", sa.Column("sla_due_at", UTC))
    op.create_index(
        "ix_dag_run_deadline_at",
        "dag_run",
        ["deadline_at"],
        postgresql_where=sa.text("deadline_at IS NOT NULL"),
        sqlite_where=sa.text("deadline_at IS NOT NULL"),
    )
    op.create_index(
        "ix_task_instance_sla_due_at",
        "task_instance",
        ["sla_due_at"],
        postgresql_where=sa.text("sla_due_at IS NOT NULL"),
        sqlite_where=sa.text("sla_due_at IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_task_instance_sla_due_at", table_name="task_instance")
    op.drop_index("ix_dag_run_deadline_at", table_name="dag_run")
    with op.batch_alter_table("task_instance") as batch:
        batch.drop_column("sla_due_at")
    with op.batch_alter_table("dag_run") as batch:
        batch.drop_column("deadline_at")
