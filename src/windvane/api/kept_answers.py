"""Kept list answers sent before routing: a GET whose answer :mod:`windvane.api.answer_cache` holds
for the caller's role, from a caller this process remembers (:func:`~windvane.api.security.remembered_user`),
is answered here, without FastAPI's routing, parameter parsing and dependencies (three quarters of
a kept answer's CPU when it went through them).

Safe because the cache only ever holds answers that a list endpoint built after its own checks,
keyed by exact path, query and role: a hit means a user of the same role was let in to that very
request. Anything else (no entry, an unknown or expired credential, another method) goes on to the
application unchanged.

**One read per answer at a time** (:class:`Reads`). When a kept answer goes stale, the first request
to find it goes on to the application and reads it again; until that read is done, the others
asking for the same answer get the stale one (stale-while-revalidate, at most
``list_cache_seconds`` more, see :mod:`~windvane.api.answer_cache`). When there is no answer at all
(every answer forgotten after a write, or expired), the others wait for that one read
(at most :data:`WAIT_SECONDS`) instead of each reading it too: 50 clients polling one page cost one
read per ``ttl``, and none of them queues behind 49 reads of the same rows. Only for keys the
cache kept an answer for lately (:meth:`~windvane.api.answer_cache.AnswerCache.known`): other GETs
(a single DAG, a log) never wait for each other.

Kept answers carry their ETag (computed once, when kept) and get ``304`` for a matching
``If-None-Match`` here; the ETag middleware outside passes tagged answers through.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Hashable

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from windvane.api.answer_cache import Kept
from windvane.api.etags import matches
from windvane.api.security import remembered_user
from windvane.api.state import ApiState

#: How long a request with no kept answer waits for another request's read of it, before it reads
#: the answer itself (a read that slow means the database is struggling: don't pile onto it sooner).
WAIT_SECONDS = 5.0


class Reads:
    """The reads of kept answers under way in this process, at most one per key and generation of
    the cache (a read begun before a write does not stand for one after it). Event loop only."""

    def __init__(self) -> None:
        self._running: dict[Hashable, tuple[int, asyncio.Event]] = {}

    def running(self, key: Hashable, generation: int) -> asyncio.Event | None:
        """The event a read of ``key`` begun at ``generation`` sets when done, if one is under way."""
        found = self._running.get(key)
        return found[1] if found is not None and found[0] == generation else None

    def start(self, key: Hashable, generation: int) -> asyncio.Event:
        done = asyncio.Event()
        self._running[key] = (generation, done)
        return done

    def end(self, key: Hashable, done: asyncio.Event) -> None:
        """The read that ``done`` stands for is over (its answer kept, or not: an error)."""
        done.set()
        found = self._running.get(key)
        if found is not None and found[1] is done:
            del self._running[key]

    def __len__(self) -> int:
        return len(self._running)


class KeptAnswerMiddleware:
    def __init__(self, app: ASGIApp, state: ApiState) -> None:
        self.app = app
        self.state = state
        self.reads = Reads()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        answers = self.state.answers
        if scope["type"] != "http" or scope["method"] != "GET" or answers.ttl <= 0:
            await self.app(scope, receive, send)
            return
        user = remembered_user(self.state, Request(scope))
        if user is None:
            await self.app(scope, receive, send)
            return
        key = kept_key(scope, user.role.value)
        generation = answers.generation
        kept = answers.find(key)
        running = self.reads.running(key, generation)
        if kept is not None and (kept.fresh or running is not None):
            answers.served(kept)
            await _send_kept(scope, send, kept)
            return
        if kept is None and running is not None and answers.known(key):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(running.wait(), WAIT_SECONDS)
            kept = answers.find(key)
            if kept is not None:
                answers.served(kept)
                await _send_kept(scope, send, kept)
            else:  # that read kept nothing (an error, a write meanwhile) or is too slow: read it here
                await self.app(scope, receive, send)
            return
        # This request reads the answer; the others asking for it meanwhile get the stale one or wait.
        done = self.reads.start(key, generation)

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":  # the answer is kept (or not) by now
                self.reads.end(key, done)
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            self.reads.end(key, done)


async def _send_kept(scope: Scope, send: Send, kept: Kept) -> None:
    wanted = next((v for k, v in scope["headers"] if k == b"if-none-match"), None)
    if matches(wanted, kept.tag):
        await send({"type": "http.response.start", "status": 304, "headers": [(b"etag", kept.tag)]})
        await send({"type": "http.response.body", "body": b""})
        return
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(kept.body)).encode()),
        (b"etag", kept.tag),
    ]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": kept.body})


def kept_key(scope: Scope, role: str) -> tuple[str, bytes, str]:
    """The key of a GET answer in :mod:`windvane.api.answer_cache`: path, query and the caller's role."""
    return scope["path"], scope["query_string"], role
