"""Who is calling: FastAPI dependencies for authentication, roles and CSRF.

Each credential's lookup is remembered for ``[api] auth_cache_seconds`` (:mod:`windvane.api.auth_cache`).
A request authenticates with ``Authorization: Bearer <API token>`` (no CSRF needed: a browser
never adds it on its own) or with the session cookie (then a mutating request must carry the
CSRF token, see :mod:`windvane.api.sessions`). :func:`require` builds the dependency of a role:
viewer < operator < admin. 401 without valid credentials, 403 with too small a role or a
missing CSRF token.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import logging
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Annotated

import pendulum
from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from windvane.api import sessions
from windvane.api.state import ApiState, get_state
from windvane.api.users import Role, User, find_user, touch_token, user_for_token
from windvane.core.store.engine import begin_read, begin_write

log = logging.getLogger("windvane.api")
_bearer = HTTPBearer(auto_error=False, description="An API token (`windvane users` or POST /auth/tokens).")
_SAFE = frozenset({"GET", "HEAD", "OPTIONS"})


async def current_user(
    request: Request,
    state: Annotated[ApiState, Depends(get_state)],
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> User:
    """The authenticated user; 401 otherwise, 403 for a cookie session without its CSRF token.

    Async, so a request whose credential the process remembers (:mod:`windvane.api.auth_cache`)
    authenticates without a database read or a thread hop; a lookup runs on the thread pool."""
    user: User | None = None
    if bearer is not None:
        key = token_key(bearer.credentials)
        user = _remembered(state, key, functools.partial(_token_user, state, bearer.credentials))
        if user is None:
            generation = state.auth.generation
            user = await run_in_threadpool(_token_user, state, bearer.credentials)
            if user is not None:
                state.auth.put(key, user, generation)
    else:
        cookie = request.cookies.get(sessions.SESSION_COOKIE)
        session = sessions.decode(cookie, state.config.signing_key, now=time.time()) if cookie else None
        if session is not None:
            key = ("user", session.username)
            found = _remembered(state, key, functools.partial(_session_user, state, session.username))
            if found is None:
                generation = state.auth.generation
                found = await run_in_threadpool(_session_user, state, session.username)
                if found is not None:
                    state.auth.put(key, found, generation)
            if found is not None and found.session_version == session.version:
                user = found
                if request.method not in _SAFE:
                    header = request.headers.get(sessions.CSRF_HEADER, "")
                    if not hmac.compare_digest(header, session.csrf):
                        request.state.username = user.username
                        raise HTTPException(403, f"missing or wrong {sessions.CSRF_HEADER} header")
    if user is None:
        raise HTTPException(401, "not authenticated", headers={"WWW-Authenticate": "Bearer"})
    request.state.username = user.username
    return user


def token_key(secret: str) -> tuple[str, str]:
    """Where :mod:`windvane.api.auth_cache` remembers the owner of API token ``secret``."""
    return "token", hashlib.sha256(secret.encode()).hexdigest()


def remembered_user(state: ApiState, request: Request) -> User | None:
    """The user a safe (GET) request's credentials belong to if this process remembers them, with
    no database read; None when it does not (then :func:`current_user` decides). The same checks
    as :func:`current_user`: a token by its SHA-256, a session cookie by its signature, expiry and
    the user's session version."""
    authorization = request.headers.get("authorization")
    if authorization is not None:
        scheme, _, secret = authorization.partition(" ")
        if scheme.lower() != "bearer" or not secret:
            return None
        secret = secret.strip()
        return _remembered(state, token_key(secret), functools.partial(_token_user, state, secret))
    cookie = request.cookies.get(sessions.SESSION_COOKIE)
    session = sessions.decode(cookie, state.config.signing_key, now=time.time()) if cookie else None
    if session is None:
        return None
    lookup = functools.partial(_session_user, state, session.username)
    user = _remembered(state, ("user", session.username), lookup)
    return user if user is not None and user.session_version == session.version else None


def _remembered(state: ApiState, key: Hashable, lookup: Callable[[], User | None]) -> User | None:
    """The user remembered for ``key``; when the entry is due, :func:`recheck` it meanwhile."""
    user, due = state.auth.remembered(key)
    if due:
        recheck(state, key, lookup)
    return user


def recheck(state: ApiState, key: Hashable, lookup: Callable[[], User | None]) -> None:
    """Look ``key``'s credential up again off the request path (the running event loop's task, the
    read on the thread pool): remember the answer afresh, or forget it when the credential is gone.
    A lookup that fails is logged; the entry then expires as usual. A revocation in this process
    while it runs wins (:attr:`~windvane.api.auth_cache.AuthCache.generation`)."""
    generation = state.auth.generation

    async def run() -> None:
        try:
            user = await run_in_threadpool(lookup)
        except Exception:
            log.warning("could not re-check a remembered API credential", exc_info=True)
            return
        if user is None:
            state.auth.forget(key)
        else:
            state.auth.put(key, user, generation)

    task = asyncio.get_running_loop().create_task(run())
    state.rechecks.add(task)
    task.add_done_callback(state.rechecks.discard)


def _token_user(state: ApiState, secret: str) -> User | None:
    now = pendulum.now("UTC")
    with begin_read(state.engine) as conn:
        owner = user_for_token(conn, secret, now=now)
    if owner is None:
        return None
    if owner.touch_due:
        _touch(state, owner.token_id, now)
    return owner.user


def _session_user(state: ApiState, username: str) -> User | None:
    with state.engine.connect() as conn:
        return find_user(conn, username)


def _touch(state: ApiState, token_id: int, now: pendulum.DateTime) -> None:
    """Record a token's use in a write of its own; a failure (a busy database) is logged, not the
    caller's problem: ``last_used_at`` is a hint."""
    try:
        with begin_write(state.engine) as conn:
            touch_token(conn, token_id, now=now)
    except Exception:
        log.warning("could not record the use of API token %s", token_id, exc_info=True)


def require(role: Role) -> Callable[[User], Awaitable[User]]:
    """The dependency that lets in users with ``role`` or a higher one."""

    async def check(user: Annotated[User, Depends(current_user)]) -> User:
        if user.role.rank < role.rank:
            raise HTTPException(403, f"user {user.username!r} ({user.role}) needs the {role} role")
        return user

    return check


Viewer = Annotated[User, Depends(require(Role.VIEWER))]
Operator = Annotated[User, Depends(require(Role.OPERATOR))]
Admin = Annotated[User, Depends(require(Role.ADMIN))]
