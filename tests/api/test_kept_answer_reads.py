"""One read per kept answer at a time (:mod:`windvane.api.kept_answers`): a stale answer is sent
while one request reads it again, a forgotten one is waited for instead of read by every client,
other GETs never wait for each other, and a read begun before a write never stands for one after.

The middleware is driven directly over ASGI with an application stand-in that holds its read until
the test lets it go, and a fake clock: every step is ordered by events, never by sleeps."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pendulum
import pytest
from sqlalchemy import create_engine

from windvane.api.answer_cache import AnswerCache
from windvane.api.auth_cache import AuthCache
from windvane.api.config import ApiConfig
from windvane.api.etags import weak_tag
from windvane.api.kept_answers import KeptAnswerMiddleware, kept_key
from windvane.api.page_cache import PageCache
from windvane.api.ratelimit import LoginLimiter
from windvane.api.security import token_key
from windvane.api.state import ApiState
from windvane.api.users import Role, User

TOKEN = "wv_test_token"
PATH = "/api/v1/dagRuns"
VIEWER = User(1, "viewer", Role.VIEWER, 1, pendulum.datetime(2024, 1, 1, tz="UTC"), None)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Backend:
    """Stands in for the application: each call is a "read" that waits for :attr:`release`, then
    keeps ``body`` (read at the generation it began at, as the list endpoints do) and sends it."""

    def __init__(self, answers: AnswerCache) -> None:
        self.answers = answers
        self.calls = 0
        self.started = asyncio.Event()
        self.release = asyncio.Event()
        self.body = b'{"v": 1}'

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        self.calls += 1
        generation = self.answers.generation
        self.started.set()
        await self.release.wait()
        body = self.body
        if scope["path"] == PATH:
            self.answers.put(kept_key(scope, VIEWER.role.value), body, generation)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})


def _state(clock: Clock) -> ApiState:
    auth: AuthCache[User] = AuthCache(60.0, clock)
    auth.put(token_key(TOKEN), VIEWER)
    engine = create_engine("sqlite://")
    return ApiState(
        engine=engine,
        config=ApiConfig(secret_key="k"),
        limiter=LoginLimiter(engine, 5, 60.0, clock),
        auth=auth,
        dag_pages=PageCache(0.0, clock),
        answers=AnswerCache(1.0, clock),
    )


Request = Callable[..., Awaitable[tuple[int, bytes, dict[bytes, bytes]]]]


def _requester(middleware: KeptAnswerMiddleware) -> Request:
    async def request(
        path: str = PATH, token: str = TOKEN, etag: bytes | None = None
    ) -> tuple[int, bytes, dict[bytes, bytes]]:
        headers = [(b"authorization", f"Bearer {token}".encode())]
        if etag is not None:
            headers.append((b"if-none-match", etag))
        scope = {"type": "http", "method": "GET", "path": path, "query_string": b"", "headers": headers}
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await middleware(scope, receive, send)
        return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:]), dict(sent[0]["headers"])

    return request


async def _setup() -> tuple[Clock, AnswerCache, Backend, KeptAnswerMiddleware, Request]:
    clock = Clock()
    state = _state(clock)
    backend = Backend(state.answers)
    middleware = KeptAnswerMiddleware(backend, state)
    return clock, state.answers, backend, middleware, _requester(middleware)


def test_a_stale_answer_is_sent_while_one_request_reads_it_again() -> None:
    async def scenario() -> None:
        clock, answers, backend, middleware, request = await _setup()
        backend.release.set()
        assert (await request())[:2] == (200, b'{"v": 1}')  # the first read keeps it
        clock.now = 1.5  # stale: past ttl (1 s), within ttl + stale (2 s)
        backend.release.clear()
        backend.started.clear()
        backend.body = b'{"v": 2}'
        reader = asyncio.create_task(request())
        await backend.started.wait()
        # While that read runs, the others get the stale answer at once, with its ETag.
        status, body, headers = await request()
        assert (status, body, headers[b"etag"]) == (200, b'{"v": 1}', weak_tag(b'{"v": 1}'))
        assert (await request(etag=weak_tag(b'{"v": 1}')))[0] == 304
        assert backend.calls == 2 and answers.stale_hits == 2
        backend.release.set()
        assert (await reader)[1] == b'{"v": 2}'
        assert (await request())[1] == b'{"v": 2}' and backend.calls == 2  # fresh again
        assert len(middleware.reads) == 0

    asyncio.run(scenario())


def test_staleness_is_bounded_past_it_a_request_waits_for_the_read() -> None:
    async def scenario() -> None:
        clock, _answers, backend, _middleware, request = await _setup()
        backend.release.set()
        await request()
        clock.now = 1.5
        backend.release.clear()
        backend.started.clear()
        backend.body = b'{"v": 2}'
        reader = asyncio.create_task(request())
        await backend.started.wait()
        clock.now = 2.0  # ttl + stale: the old answer is never sent again
        waiter = asyncio.create_task(request())
        await asyncio.sleep(0)  # let it reach its wait (ordering only: nothing depends on time)
        assert not waiter.done()
        backend.release.set()
        assert (await waiter)[1] == b'{"v": 2}' and (await reader)[1] == b'{"v": 2}'
        assert backend.calls == 2

    asyncio.run(scenario())


def test_after_a_write_many_clients_cost_one_read_and_never_one_begun_before_it() -> None:
    async def scenario() -> None:
        _clock, answers, backend, _middleware, request = await _setup()
        backend.release.set()
        await request()
        answers.clear()  # a write through this process: every answer forgotten
        backend.release.clear()
        backend.started.clear()
        backend.body = b'{"v": 2}'
        clients = [asyncio.create_task(request()) for _ in range(50)]
        await backend.started.wait()
        # A second write while that read runs: its answer is not kept, and later clients do not
        # wait for it (it may predate the write): they read again.
        answers.clear()
        backend.body = b'{"v": 3}'
        late = asyncio.create_task(request())
        backend.release.set()
        answered = [await c for c in clients]
        assert {a[1] for a in answered} <= {b'{"v": 2}', b'{"v": 3}'}
        assert (await late)[1] == b'{"v": 3}'
        # The first read, one for the 50 (its answer not kept: the 49 waiting then found the late
        # client's), and the late client's own.
        assert backend.calls == 3

    asyncio.run(scenario())


def test_fifty_clients_after_a_write_cost_one_read() -> None:
    async def scenario() -> None:
        _clock, answers, backend, _middleware, request = await _setup()
        backend.release.set()
        await request()
        answers.clear()
        backend.release.clear()
        backend.started.clear()
        clients = [asyncio.create_task(request()) for _ in range(50)]
        await backend.started.wait()
        backend.release.set()
        assert all(a[:2] == (200, b'{"v": 1}') for a in [await c for c in clients])
        assert backend.calls == 2  # the first read, and one for the 50

    asyncio.run(scenario())


def test_other_gets_and_strangers_never_wait() -> None:
    async def scenario() -> None:
        _clock, _answers, backend, _middleware, request = await _setup()
        # Never kept (a single DAG, a log): concurrent requests all reach the application.
        first = asyncio.create_task(request("/api/v1/dags/etl"))
        await backend.started.wait()
        second = asyncio.create_task(request("/api/v1/dags/etl"))
        for _ in range(3):
            await asyncio.sleep(0)
        assert backend.calls == 2
        backend.release.set()
        await first
        await second
        # An answer kept for the viewer is not sent to a credential this process does not know.
        await request()
        calls = backend.calls
        await request(token="wv_someone_else")
        assert backend.calls == calls + 1

    asyncio.run(scenario())


@pytest.mark.parametrize("stale", [None, 0.0])
def test_the_cache_finds_stale_answers_only_within_the_bound(stale: float | None) -> None:
    clock = Clock()
    cache = AnswerCache(1.0, clock, stale=stale)
    cache.put("a", b"A", cache.generation)
    found = cache.find("a")
    assert found is not None and found.fresh and found.tag == weak_tag(b"A") and cache.known("a")
    clock.now = 1.0
    assert cache.get("a") is None  # get is fresh only
    found = cache.find("a")
    assert (found is not None and not found.fresh) if stale is None else found is None
    clock.now = 2.0
    assert cache.find("a") is None
    cache.clear()
    assert cache.known("a") and not cache.known("b")
