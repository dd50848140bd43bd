"""``/auth``: browser login and logout, who am I, the caller's API tokens; ``/users`` (admin)."""

from __future__ import annotations

import time

import pendulum
from fastapi import APIRouter, HTTPException, Request, Response

from windvane.api import sessions
from windvane.api.routes._common import CredentialWriteConn, ReadConn, State, WriteConn
from windvane.api.schemas import (
    LoginRequest,
    LoginResponse,
    Me,
    NewToken,
    Token,
    TokenList,
    TokenRequest,
    UserCreate,
    UserList,
    UserOut,
)
from windvane.api.security import Admin, Viewer
from windvane.api.users import (
    Role,
    authenticate,
    create_token,
    create_user,
    delete_token,
    delete_user,
    list_tokens,
    list_users,
)
from windvane.core.store.engine import begin_write

router = APIRouter(tags=["Auth"])


@router.post("/auth/login", response_model=LoginResponse, name="login")
def login(body: LoginRequest, request: Request, response: Response, state: State) -> LoginResponse:
    """Check the password and set the session cookie and the CSRF cookie; 401 on a wrong name or
    password, 429 (with Retry-After) after too many failures for this name from this address."""
    address = request.client.host if request.client else "?"
    request.state.username = body.username
    wait = state.limiter.attempt(body.username, address)  # counted as failed until it succeeds
    if wait > 0:
        raise HTTPException(
            429, "too many failed logins; try again later", {"Retry-After": str(int(wait) + 1)}
        )
    with begin_write(state.engine) as conn:
        user = authenticate(conn, body.username, body.password, now=pendulum.now("UTC"))
    if user is None:
        raise HTTPException(401, "wrong user name or password")
    state.limiter.succeeded(body.username, address)
    config = state.config
    session = sessions.new_session(
        user.username, user.session_version, now=time.time(), lifetime=config.session_lifetime_seconds
    )
    max_age = int(config.session_lifetime_seconds)
    response.set_cookie(
        sessions.SESSION_COOKIE, sessions.encode(session, config.signing_key), max_age=max_age,
        httponly=True, samesite="strict", secure=config.secure_cookies, path="/",
    )  # fmt: skip
    response.set_cookie(
        sessions.CSRF_COOKIE, session.csrf, max_age=max_age, httponly=False, samesite="strict",
        secure=config.secure_cookies, path="/",
    )  # fmt: skip
    return LoginResponse(username=user.username, role=user.role.value, csrf_token=session.csrf)


@router.post("/auth/logout", status_code=204, response_class=Response, name="logout")
def logout(user: Viewer) -> Response:
    response = Response(status_code=204)
    response.delete_cookie(sessions.SESSION_COOKIE, path="/")
    response.delete_cookie(sessions.CSRF_COOKIE, path="/")
    return response


@router.get("/auth/me", response_model=Me, name="get_me")
def me(user: Viewer) -> Me:
    return Me(username=user.username, role=user.role.value)


@router.get("/auth/tokens", response_model=TokenList, name="list_tokens")
def tokens(user: Viewer, conn: ReadConn) -> TokenList:
    return TokenList(tokens=[Token.model_validate(t) for t in list_tokens(conn, user.username)])


@router.post("/auth/tokens", response_model=NewToken, status_code=201, name="create_token")
def new_token(body: TokenRequest, user: Viewer, conn: WriteConn) -> NewToken:
    """A new API token for the caller: ``token`` is shown this once (only its hash is kept)."""
    record, secret = create_token(conn, user.username, body.name, now=pendulum.now("UTC"))
    return NewToken(**Token.model_validate(record).model_dump(), token=secret)


@router.delete("/auth/tokens/{token_id}", status_code=204, response_class=Response, name="delete_token")
def drop_token(token_id: int, user: Viewer, conn: CredentialWriteConn, state: State) -> Response:
    delete_token(conn, user.username, token_id)
    state.auth.clear()  # this process forgets it at once (others within auth_cache_seconds)
    return Response(status_code=204)


@router.get("/users", response_model=UserList, name="list_users")
def users(_: Admin, conn: ReadConn) -> UserList:
    return UserList(users=[UserOut(username=u.username, role=u.role.value, created_at=u.created_at,
                                   last_login_at=u.last_login_at) for u in list_users(conn)])  # fmt: skip


@router.post("/users", response_model=UserOut, status_code=201, name="create_user")
def add_user(body: UserCreate, _: Admin, conn: WriteConn) -> UserOut:
    u = create_user(conn, body.username, body.password, Role(body.role), now=pendulum.now("UTC"))
    return UserOut(username=u.username, role=u.role.value, created_at=u.created_at, last_login_at=None)


@router.delete("/users/{username}", status_code=204, response_class=Response, name="delete_user")
def remove_user(username: str, admin: Admin, conn: CredentialWriteConn, state: State) -> Response:
    if username == admin.username:
        raise HTTPException(409, "an admin cannot delete their own user")
    delete_user(conn, username)
    state.auth.clear()
    return Response(status_code=204)
