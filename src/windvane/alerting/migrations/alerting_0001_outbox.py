"""The alert outbox and silences: ``alert_outbox``, ``alert_silence``.

The root of the ``alerting`` branch; needs core's journal (0002). A frozen
snapshot: later changes go in new revisions.

Revision ID: alerting_0001
Revises:
Create Date: 2026-12-06 00:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "alerting_0001"
down_revision: str | None = None
branch_labels: tuple[str, ...] | None = ("alerting",)
depends_on: str | None = "0002"

UTC = sa.DateTime(timezone=True)
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "alert_outbox",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("dedupe_key", sa.String(1000), nullable=False),
        sa.Column("channel", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(30), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTC, nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("sent_at", UTC),
        sa.Column("last_error", sa.String(2000)),
        sa.Column("claimed_by", sa.String(250)),
        sa.Column("claimed_until", UTC),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("dedupe_key", name="uq_alert_outbox_dedupe_key"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_alert_outbox_state_next_attempt_at", "alert_outbox", ["state", "next_attempt_at"])
    op.create_table(
        "alert_silence",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("dag_id", sa.String(250), nullable=False),
        sa.Column("task_id", sa.String(250)),
        sa.Column("until", UTC, nullable=False),
        sa.Column("reason", sa.String(1000), nullable=False),
        sa.Column("created_by", sa.String(250), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_alert_silence_until", "alert_silence", ["until"])


def downgrade() -> None:
    op.drop_index("ix_alert_silence_until", table_name="alert_silence")
    op.drop_table("alert_silence")
    op.drop_index("ix_alert_outbox_state_next_attempt_at", table_name="alert_outbox")
    op.drop_table("alert_outbox")
