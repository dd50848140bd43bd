"""The API's tables (created by its own Alembic branch, :mod:`windvane.api.migrations`).

``api_user``: a login with an argon2 password hash and a role; ``session_version`` grows on
every password reset, which ends the user's browser sessions. ``api_token``: a user's API
tokens, stored as SHA-256 hashes (a token is 256 random bits, shown once). ``audit_log``: one
row per mutating call (and per login attempt): who, what, on what, when, with which result.
``api_login_failure``: the recent failed logins per user name and client address, which every API
process counts against ``[api] login_rate_limit`` (:mod:`windvane.api.ratelimit`).
"""

from __future__ import annotations

import sqlalchemy as sa

UTC = sa.DateTime(timezone=True)
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

metadata = sa.MetaData()

api_user = sa.Table(
    "api_user",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("username", sa.String(250), nullable=False, unique=True),
    sa.Column("password_hash", sa.String(500), nullable=False),
    sa.Column("role", sa.String(20), nullable=False),
    sa.Column("session_version", sa.Integer, nullable=False),
    sa.Column("created_at", UTC, nullable=False),
    sa.Column("last_login_at", UTC),
)

api_token = sa.Table(
    "api_token",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("api_user.id", ondelete="CASCADE"), nullable=False),
    sa.Column("name", sa.String(250), nullable=False),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("prefix", sa.String(16), nullable=False),
    sa.Column("created_at", UTC, nullable=False),
    sa.Column("last_used_at", UTC),
)

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("id", BIG_ID, primary_key=True, autoincrement=True),
    sa.Column("at", UTC, nullable=False, index=True),
    sa.Column("username", sa.String(250)),
    sa.Column("action", sa.String(100), nullable=False),
    sa.Column("method", sa.String(10), nullable=False),
    sa.Column("target", sa.String(2000), nullable=False),
    sa.Column("status_code", sa.Integer, nullable=False),
    sa.Column("result", sa.String(20), nullable=False),
    sa.Column("remote_addr", sa.String(100)),
    sqlite_autoincrement=True,
)

api_login_failure = sa.Table(
    "api_login_failure",
    metadata,
    sa.Column("id", BIG_ID, primary_key=True, autoincrement=True),
    sa.Column("username", sa.String(250), nullable=False),
    sa.Column("address", sa.String(100), nullable=False),
    # Wall-clock seconds since the epoch: compared only with each other, by every API process.
    sa.Column("failed_at", sa.Float(precision=53), nullable=False, index=True),
    sa.Index("ix_api_login_failure_key", "username", "address", "failed_at"),
)
