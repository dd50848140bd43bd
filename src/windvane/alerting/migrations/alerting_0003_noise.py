"""Noise control: outbox grouping/replacement columns, silence ends, repeat state.

``alert_outbox`` gains ``dag_id``, ``run_id`` (indexed together), ``group_key``
(indexed with ``state``), ``merged_into`` (indexed) and ``note``;
``alert_silence`` gains ``ended_by`` (who expired it early); ``alert_repeat``
holds, per DAG, when its last run-failure alert was raised.

Revision ID: alerting_0003
Revises: alerting_0002
Create Date: 2026-12-06 23:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "alerting_0003"
down_revision: str | None = "alerting_0002"
branch_labels: tuple[str, ...] | None = None
depends_on: str | None = None

UTC = sa.DateTime(timezone=True)
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("alert_outbox") as batch:
        batch.add_column(sa.Column("dag_id", sa.String(250)))
        batch.add_column(sa.Column("run_id", sa.String(250)))
        batch.add_column(sa.Column("group_key", sa.String(1000)))
        batch.add_column(sa.Column("merged_into", BIG_ID))
        batch.add_column(sa.Column("note", sa.String(500)))
    op.create_index("ix_alert_outbox_group_key_state", "alert_outbox", ["group_key", "state"])
    op.create_index("ix_alert_outbox_dag_id_run_id", "alert_outbox", ["dag_id", "run_id"])
    op.create_index("ix_alert_outbox_merged_into", "alert_outbox", ["merged_into"])
    with op.batch_alter_table("alert_silence") as batch:
        batch.add_column(sa.Column("ended_by", sa.String(250)))
    op.create_table(
        "alert_repeat",
        sa.Column("dag_id", sa.String(250), nullable=False),
        sa.Column("alerted_at", UTC, nullable=False),
        sa.Column("suppressed", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("dag_id"),
    )


def downgrade() -> None:
    op.drop_table("alert_repeat")
    with op.batch_alter_table("alert_silence") as batch:
        batch.drop_column("ended_by")
    op.drop_index("ix_alert_outbox_merged_into", table_name="alert_outbox")
    op.drop_index("ix_alert_outbox_dag_id_run_id", table_name="alert_outbox")
    op.drop_index("ix_alert_outbox_group_key_state", table_name="alert_outbox")
    with op.batch_alter_table("alert_outbox") as batch:
        for column in ("note", "merged_into", "group_key", "run_id", "dag_id"):
            batch.drop_column(column)
