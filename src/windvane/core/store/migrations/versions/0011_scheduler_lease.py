"""``scheduler_lease``: several schedulers' leases of the global limits (pool slots, max_active_tasks).

Each live coordinated scheduler records, per limit it queues into, the part it may fill without a
lock and what it asked for (:mod:`windvane.core.scheduler.leasing`). Rows of a job that is not
``running`` are ignored by every reader; the scheduler that finds a job dead deletes them.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 14:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "scheduler_lease",
        sa.Column("job_id", sa.Integer(), primary_key=True),
        sa.Column("kind", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(256), primary_key=True),
        sa.Column("task_id", sa.String(256), primary_key=True),
        sa.Column("slots", sa.Integer(), nullable=False),
        sa.Column("demand", sa.Integer(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("scheduler_lease")
