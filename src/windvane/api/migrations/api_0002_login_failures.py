"""``api_login_failure``: failed logins counted in the database, so ``[api] login_rate_limit``
holds in total across every API process (it was counted per process).

A frozen snapshot: later changes go in new revisions.

Revision ID: api_0002
Revises: api_0001
Create Date: 2026-12-07 15:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "api_0002"
down_revision: str | None = "api_0001"
branch_labels: tuple[str, ...] | None = None
depends_on: str | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "api_login_failure",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("username", sa.String(250), nullable=False),
        sa.Column("address", sa.String(100), nullable=False),
        sa.Column("failed_at", sa.Float(precision=53), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_api_login_failure_failed_at", "api_login_failure", ["failed_at"])
    op.create_index("ix_api_login_failure_key", "api_login_failure", ["username", "address", "failed_at"])


def downgrade() -> None:
    op.drop_index("ix_api_login_failure_key", table_name="api_login_failure")
    op.drop_index("ix_api_login_failure_failed_at", table_name="api_login_failure")
    op.drop_table("api_login_failure")
