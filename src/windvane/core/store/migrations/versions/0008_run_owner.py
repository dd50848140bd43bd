"""``dag_run.scheduled_by_job_id``: the scheduler job that drives a running run (several schedulers).

Each running run is driven by one scheduler at a time, the job named here; a scheduler loads only the
runs it owns, and claims (``FOR UPDATE SKIP LOCKED``) runs whose owner is NULL or a job that ended or
was found dead. NULL on every existing row: the first scheduler to start claims them.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 05:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("dag_run") as batch:
        batch.add_column(sa.Column("scheduled_by_job_id", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("dag_run") as batch:
        batch.drop_column("scheduled_by_job_id")
