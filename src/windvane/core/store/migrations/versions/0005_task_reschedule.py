"""Reschedule-mode sensors: the ``task_reschedule`` table, and ``up_for_reschedule`` among the
active task-instance states of the partial index ``ix_task_instance_active``.

One ``task_reschedule`` row per try that ended ``up_for_reschedule`` (Airflow's table of the same
name): a sensor's timeout counts from the first row's ``start_date`` since the last clear.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07 02:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None

UTC = sa.DateTime(timezone=True)
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_OLD_ACTIVE = "state IN ('scheduled', 'queued', 'running', 'up_for_retry')"
_NEW_ACTIVE = "state IN ('scheduled', 'queued', 'running', 'up_for_retry', 'up_for_reschedule')"


def _active_index(where: str) -> None:
    op.drop_index("ix_task_instance_active", table_name="task_instance")
    op.create_index(
        "ix_task_instance_active",
        "task_instance",
        ["state", "pool"],
        postgresql_where=sa.text(where),
        sqlite_where=sa.text(where),
    )


def upgrade() -> None:
    op.create_table(
        "task_reschedule",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("ti_id", BIG_ID, nullable=False),
        sa.Column("try_number", sa.Integer(), nullable=False),
        sa.Column("start_date", UTC, nullable=False),
        sa.Column("end_date", UTC, nullable=False),
        sa.Column("duration", sa.Float()),
        sa.Column("reschedule_date", UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["ti_id"],
            ["task_instance.id"],
            name="fk_task_reschedule_ti_id_task_instance",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_task_reschedule"),
    )
    op.create_index("ix_task_reschedule_ti_id_try_number", "task_reschedule", ["ti_id", "try_number"])
    _active_index(_NEW_ACTIVE)


def downgrade() -> None:
    _active_index(_OLD_ACTIVE)
    op.drop_index("ix_task_reschedule_ti_id_try_number", table_name="task_reschedule")
    op.drop_table("task_reschedule")
