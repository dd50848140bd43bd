"""Kept list answers sent before routing: a GET whose answer :mod:`windvane.api.answer_cache` holds
for the caller's role, from a caller this process remembers (:func:`~windvane.api.security.remembered_user`),
is answered here, without FastAPI's routing, parameter parsing and dependencies (three quarters of
a kept answer's CPU when it went through them).

Safe because the cache only ever holds answers that a list endpoint built after its own checks,
keyed by exact path, query and role: a hit means a user of the same role was let in to that very
request. Anything else (no entry, an unknown or expired credential, another method) goes on to the
application unchanged. It sits inside the ETag middleware, so kept answers get ETags and 304s too.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from windvane.api.security import remembered_user
from windvane.api.state import ApiState


class KeptAnswerMiddleware:
    def __init__(self, app: ASGIApp, state: ApiState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET" or self.state.answers.ttl <= 0:
            await self.app(scope, receive, send)
            return
        user = remembered_user(self.state, Request(scope))
        body = None if user is None else self.state.answers.get(kept_key(scope, user.role.value))
        if body is None:
            await self.app(scope, receive, send)
            return
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def kept_key(scope: Scope, role: str) -> tuple[str, bytes, str]:
    """The key of a GET answer in :mod:`windvane.api.answer_cache`: path, query and the caller's role."""
    return scope["path"], scope["query_string"], role
