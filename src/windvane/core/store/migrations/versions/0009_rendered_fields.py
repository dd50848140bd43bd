"""Rendered template fields, the scheduler's loop timing on its job row, and an index for the
cross-DAG run list.

* ``rendered_task_instance_fields`` (Airflow's table of the same name): the template fields of a
  task instance as its latest try rendered them, secrets masked, one JSON object per task instance;
  written in the try's finishing transaction, kept for the newest runs of each task.
* ``job.loop_p95_seconds`` and ``job.loop_samples``: a scheduler writes the 95th percentile of its
  recent passes with its heartbeat (the UI's health panel and ``/health`` read it).
* ``ix_dag_run_logical_date``: ``GET /dagRuns`` (newest first across DAGs) reads one page of the
  index instead of sorting every run.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 05:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | None = None
depends_on: str | None = None

UTC = sa.DateTime(timezone=True)
ID = sa.String(250)


def upgrade() -> None:
    op.create_table(
        "rendered_task_instance_fields",
        sa.Column("dag_run_id", sa.Integer(), nullable=False),
        sa.Column("task_id", ID, nullable=False),
        sa.Column("map_index", sa.Integer(), server_default=sa.text("-1"), nullable=False),
        sa.Column("dag_id", ID, nullable=False),
        sa.Column("run_id", ID, nullable=False),
        sa.Column("try_number", sa.Integer(), nullable=False),
        sa.Column("rendered_fields", sa.Text(), nullable=False),
        sa.Column("rendered_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["dag_run_id"],
            ["dag_run.id"],
            name="fk_rendered_task_instance_fields_dag_run_id_dag_run",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "dag_run_id", "task_id", "map_index", name="pk_rendered_task_instance_fields"
        ),
    )
    op.create_index(
        "ix_rendered_task_instance_fields_dag_id_task_id",
        "rendered_task_instance_fields",
        ["dag_id", "task_id", "dag_run_id"],
    )
    op.add_column("job", sa.Column("loop_p95_seconds", sa.Float()))
    op.add_column("job", sa.Column("loop_samples", sa.Integer()))
    op.create_index("ix_dag_run_logical_date", "dag_run", ["logical_date", "id"])


def downgrade() -> None:
    op.drop_index("ix_dag_run_logical_date", table_name="dag_run")
    with op.batch_alter_table("job") as batch:
        batch.drop_column("loop_samples")
        batch.drop_column("loop_p95_seconds")
    op.drop_index(
        "ix_rendered_task_instance_fields_dag_id_task_id", table_name="rendered_task_instance_fields"
    )
    op.drop_table("rendered_task_instance_fields")
