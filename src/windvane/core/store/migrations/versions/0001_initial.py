"""The initial schema: exactly ``tables.py`` as first released.

This is a frozen snapshot: later changes to ``tables.py`` go in new revisions,
never here. ``tests/store/test_schema.py`` checks that head equals ``tables.py``.

Revision ID: 0001
Revises:
Create Date: 2024-01-01 00:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

UTC = sa.DateTime(timezone=True)
ID = sa.String(250)
ACTIVE_RUN_STATES = "state IN ('queued', 'running')"
ACTIVE_TI_STATES = "state IN ('scheduled', 'queued', 'running', 'up_for_retry')"


def upgrade() -> None:
    op.create_table(
        "dag",
        sa.Column("dag_id", ID, nullable=False),
        sa.Column("fileloc", sa.Text(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False, server_default=sa.text("true")),
        sa.Column("is_paused", sa.Boolean(), nullable=False, server_default=sa.text("false")),
        sa.Column("dag_hash", sa.String(64), nullable=False),
        sa.Column("serialized", sa.Text(), nullable=False),
        sa.Column("timetable_summary", sa.Text()),
        sa.Column("description", sa.Text()),
        sa.Column("tags", sa.JSON()),
        sa.Column("owners", sa.Text()),
        sa.Column("last_parsed_at", UTC),
        sa.Column("next_dagrun_logical_date", UTC),
        sa.Column("next_dagrun_data_interval_start", UTC),
        sa.Column("next_dagrun_data_interval_end", UTC),
        sa.Column("next_dagrun_create_after", UTC),
        sa.PrimaryKeyConstraint("dag_id", name="pk_dag"),
    )
    op.create_index(
        "ix_dag_next_dagrun_create_after", "dag", ["is_active", "is_paused", "next_dagrun_create_after"]
    )

    op.create_table(
        "dag_run",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("dag_id", ID, nullable=False),
        sa.Column("run_id", ID, nullable=False),
        sa.Column("run_type", sa.String(20), nullable=False),
        sa.Column("logical_date", UTC, nullable=False),
        sa.Column("data_interval_start", UTC),
        sa.Column("data_interval_end", UTC),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("queued_at", UTC),
        sa.Column("start_date", UTC),
        sa.Column("end_date", UTC),
        sa.Column("conf", sa.JSON()),
        sa.Column("dag_hash", sa.String(64)),
        sa.Column("creating_job_id", sa.Integer()),
        sa.Column("external_trigger", sa.Boolean(), nullable=False, server_default=sa.text("false")),
        sa.PrimaryKeyConstraint("id", name="pk_dag_run"),
        sa.UniqueConstraint("dag_id", "run_id", name="uq_dag_run_dag_id_run_id"),
    )
    op.create_index("ix_dag_run_dag_id_logical_date", "dag_run", ["dag_id", "logical_date"])
    op.create_index(
        "ix_dag_run_active",
        "dag_run",
        ["state", "dag_id"],
        postgresql_where=sa.text(ACTIVE_RUN_STATES),
        sqlite_where=sa.text(ACTIVE_RUN_STATES),
    )

    op.create_table(
        "task_instance",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("dag_run_id", sa.Integer(), nullable=False),
        sa.Column("dag_id", ID, nullable=False),
        sa.Column("run_id", ID, nullable=False),
        sa.Column("task_id", ID, nullable=False),
        sa.Column("map_index", sa.Integer(), nullable=False, server_default=sa.text("-1")),
        sa.Column("state", sa.String(20), nullable=False, server_default=sa.text("'none'")),
        sa.Column("try_number", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.Column("max_tries", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.Column("priority_weight", sa.Integer(), nullable=False, server_default=sa.text("1")),
        sa.Column("pool", sa.String(256), nullable=False, server_default=sa.text("'default_pool'")),
        sa.Column("pool_slots", sa.Integer(), nullable=False, server_default=sa.text("1")),
        sa.Column("queue", sa.String(256), nullable=False, server_default=sa.text("'default'")),
        sa.Column("operator", sa.String(1000)),
        sa.Column("scheduled_dttm", UTC),
        sa.Column("queued_dttm", UTC),
        sa.Column("start_date", UTC),
        sa.Column("end_date", UTC),
        sa.Column("duration", sa.Float()),
        sa.Column("hostname", sa.String(1000)),
        sa.Column("pid", sa.Integer()),
        sa.Column("queued_by_job_id", sa.Integer()),
        sa.Column("next_retry_at", UTC),
        sa.Column("last_heartbeat_at", UTC),
        sa.Column("error", sa.Text()),
        sa.Column("updated_at", UTC),
        sa.PrimaryKeyConstraint("id", name="pk_task_instance"),
        sa.ForeignKeyConstraint(
            ["dag_run_id"],
            ["dag_run.id"],
            name="fk_task_instance_dag_run_id_dag_run",
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint(
            "dag_run_id", "task_id", "map_index", name="uq_task_instance_dag_run_id_task_id_map_index"
        ),
    )
    op.create_index("ix_task_instance_dag_id_task_id_state", "task_instance", ["dag_id", "task_id", "state"])
    op.create_index(
        "ix_task_instance_active",
        "task_instance",
        ["state", "pool"],
        postgresql_where=sa.text(ACTIVE_TI_STATES),
        sqlite_where=sa.text(ACTIVE_TI_STATES),
    )

    op.create_table(
        "xcom",
        sa.Column("dag_run_id", sa.Integer(), nullable=False),
        sa.Column("task_id", ID, nullable=False),
        sa.Column("map_index", sa.Integer(), nullable=False, server_default=sa.text("-1")),
        sa.Column("key", sa.String(512), nullable=False),
        sa.Column("dag_id", ID, nullable=False),
        sa.Column("run_id", ID, nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("timestamp", UTC, nullable=False),
        sa.PrimaryKeyConstraint("dag_run_id", "task_id", "map_index", "key", name="pk_xcom"),
        sa.ForeignKeyConstraint(
            ["dag_run_id"], ["dag_run.id"], name="fk_xcom_dag_run_id_dag_run", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_xcom_dag_id_run_id_task_id", "xcom", ["dag_id", "run_id", "task_id"])

    op.create_table(
        "slot_pool",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("pool", sa.String(256), nullable=False),
        sa.Column("slots", sa.Integer(), nullable=False),
        sa.Column("description", sa.Text()),
        sa.PrimaryKeyConstraint("id", name="pk_slot_pool"),
        sa.UniqueConstraint("pool", name="uq_slot_pool_pool"),
    )

    op.create_table(
        "import_error",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("filename", sa.Text(), nullable=False),
        sa.Column("timestamp", UTC, nullable=False),
        sa.Column("stacktrace", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_import_error"),
        sa.UniqueConstraint("filename", name="uq_import_error_filename"),
    )

    op.create_table(
        "dag_file",
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("mtime", sa.Float()),
        sa.Column("last_parsed_at", UTC),
        sa.Column("parse_duration", sa.Float()),
        sa.Column("dag_ids", sa.JSON()),
        sa.PrimaryKeyConstraint("path", name="pk_dag_file"),
    )

    op.create_table(
        "job",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("job_type", sa.String(30), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("hostname", sa.String(1000)),
        sa.Column("pid", sa.Integer()),
        sa.Column("start_date", UTC, nullable=False),
        sa.Column("end_date", UTC),
        sa.Column("latest_heartbeat", UTC, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_job"),
    )
    op.create_index("ix_job_type_state_heartbeat", "job", ["job_type", "state", "latest_heartbeat"])


def downgrade() -> None:
    for table in ("job", "dag_file", "import_error", "slot_pool", "xcom", "task_instance", "dag_run", "dag"):
        op.drop_table(table)
