"""Users and API tokens: every statement on ``api_user`` and ``api_token``.

Passwords are hashed with argon2id (argon2-cffi's defaults, RFC 9106's second recommended
profile); a token is 32 random bytes shown once and stored as its SHA-256 (a slow hash adds
nothing to 256 random bits, and a fast one keeps each request's lookup cheap).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, RowMapping, delete, insert, select, update

from windvane.api.tables import api_token, api_user
from windvane.core.store._time import from_db
from windvane.errors import NotFoundError, WindvaneError

_HASHER = PasswordHasher()
#: Hashed when the user does not exist, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = _HASHER.hash("windvane-no-such-user")
TOKEN_PREFIX = "wv_"
USERNAME_RULE = re.compile(r"^[A-Za-z0-9_.@-]{1,250}$")
MIN_PASSWORD = 8
MAX_PASSWORD = 1024


class Role(StrEnum):
    """viewer: read; operator: also trigger, clear, mark, pause; admin: also pools, users, config."""

    VIEWER = "viewer"
    OPERATOR = "operator"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return list(Role).index(self)


class UserError(WindvaneError):
    """A user or token request that cannot be done (bad name, short password, duplicate)."""


@dataclass(frozen=True, slots=True)
class User:
    id: int
    username: str
    role: Role
    session_version: int
    created_at: datetime
    last_login_at: datetime | None


@dataclass(frozen=True, slots=True)
class Token:
    id: int
    username: str
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None


def check_password(password: str) -> None:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise UserError(f"a password must have {MIN_PASSWORD} to {MAX_PASSWORD} characters")


def create_user(conn: Connection, username: str, password: str, role: Role, *, now: datetime) -> User:
    """Add a user; :class:`UserError` naming it when the name is taken or invalid."""
    if not USERNAME_RULE.match(username):
        raise UserError(f"user name {username!r} must be 1 to 250 of A-Z a-z 0-9 _ . @ -")
    check_password(password)
    if conn.execute(select(api_user.c.id).where(api_user.c.username == username)).first():
        raise UserError(f"user {username!r} already exists")
    conn.execute(
        insert(api_user).values(
            username=username,
            password_hash=_HASHER.hash(password),
            role=role.value,
            session_version=1,
            created_at=now,
        )
    )
    return get_user(conn, username)


def get_user(conn: Connection, username: str) -> User:
    row = conn.execute(select(api_user).where(api_user.c.username == username)).mappings().first()
    if row is None:
        raise NotFoundError(f"user {username!r} does not exist")
    return _user(row)


def find_user(conn: Connection, username: str) -> User | None:
    try:
        return get_user(conn, username)
    except NotFoundError:
        return None


def list_users(conn: Connection) -> list[User]:
    return [_user(r) for r in conn.execute(select(api_user).order_by(api_user.c.username)).mappings()]


def delete_user(conn: Connection, username: str) -> None:
    """Delete a user and its tokens (their sessions end with the row)."""
    user = get_user(conn, username)
    conn.execute(delete(api_token).where(api_token.c.user_id == user.id))
    conn.execute(delete(api_user).where(api_user.c.id == user.id))


def reset_password(conn: Connection, username: str, password: str) -> None:
    """Set a new password; the user's browser sessions end (its API tokens stay)."""
    check_password(password)
    changed = conn.execute(
        update(api_user)
        .where(api_user.c.username == username)
        .values(password_hash=_HASHER.hash(password), session_version=api_user.c.session_version + 1)
    ).rowcount
    if not changed:
        raise NotFoundError(f"user {username!r} does not exist")


def authenticate(conn: Connection, username: str, password: str, *, now: datetime) -> User | None:
    """The user when ``password`` is theirs (its last login recorded), else None."""
    row = conn.execute(select(api_user).where(api_user.c.username == username)).mappings().first()
    try:
        _HASHER.verify(row["password_hash"] if row else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    if row is None:
        return None
    conn.execute(update(api_user).where(api_user.c.id == row["id"]).values(last_login_at=now))
    return _user(row)


def create_token(conn: Connection, username: str, name: str, *, now: datetime) -> tuple[Token, str]:
    """A new API token of ``username``: the stored record and the token itself (shown once)."""
    if not 1 <= len(name) <= 250:
        raise UserError("a token name must have 1 to 250 characters")
    user = get_user(conn, username)
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token_id = conn.execute(
        insert(api_token)
        .values(user_id=user.id, name=name, token_hash=_digest(secret), prefix=secret[:10], created_at=now)
        .returning(api_token.c.id)
    ).scalar_one()
    return Token(int(token_id), username, name, secret[:10], now, None), secret


#: A token's ``last_used_at`` is rewritten at most this often (a write per request would serialize
#: every request on SQLite's single writer).
LAST_USED_RESOLUTION_SECONDS = 300.0


@dataclass(frozen=True, slots=True)
class TokenOwner:
    """Who a token belongs to, and whether its ``last_used_at`` is due to be rewritten."""

    user: User
    token_id: int
    touch_due: bool


def user_for_token(conn: Connection, secret: str, *, now: datetime) -> TokenOwner | None:
    """The owner of API token ``secret``, or None (a read only). ``touch_due`` when the token's
    recorded last use is older than :data:`LAST_USED_RESOLUTION_SECONDS` (see :func:`touch_token`)."""
    row = (
        conn.execute(
            select(api_user, api_token.c.id.label("token_id"), api_token.c.last_used_at.label("token_used"))
            .join(api_token, api_token.c.user_id == api_user.c.id)
            .where(api_token.c.token_hash == _digest(secret))
        )
        .mappings()
        .first()
    )
    if row is None:
        return None
    used = from_db(row["token_used"])
    due = used is None or (now - used).total_seconds() > LAST_USED_RESOLUTION_SECONDS
    return TokenOwner(_user(row), int(row["token_id"]), due)


def touch_token(conn: Connection, token_id: int, *, now: datetime) -> None:
    """Record that token ``token_id`` was used at ``now``."""
    conn.execute(update(api_token).where(api_token.c.id == token_id).values(last_used_at=now))


def list_tokens(conn: Connection, username: str) -> list[Token]:
    stmt = (
        select(api_token, api_user.c.username)
        .join(api_user, api_token.c.user_id == api_user.c.id)
        .where(api_user.c.username == username)
        .order_by(api_token.c.id)
    )
    return [
        Token(
            r["id"],
            r["username"],
            r["name"],
            r["prefix"],
            from_db(r["created_at"]),
            from_db(r["last_used_at"]),
        )
        for r in conn.execute(stmt).mappings()
    ]


def delete_token(conn: Connection, username: str, token_id: int) -> None:
    user = get_user(conn, username)
    stmt = delete(api_token).where(api_token.c.id == token_id, api_token.c.user_id == user.id)
    if conn.execute(stmt).rowcount == 0:
        raise NotFoundError(f"user {username!r} has no API token {token_id}")


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _user(r: RowMapping) -> User:
    return User(
        id=r["id"],
        username=r["username"],
        role=Role(r["role"]),
        session_version=r["session_version"],
        created_at=from_db(r["created_at"]),
        last_login_at=from_db(r["last_login_at"]),
    )
