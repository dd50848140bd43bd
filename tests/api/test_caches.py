"""The per-process memories that keep requests off the database: DAG-list answers kept while the
``dag_change`` counter stands still, and who a credential belongs to (pure parts, then through the
API)."""

from __future__ import annotations

from collections.abc import Callable

import pendulum
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, update

from windvane.api.auth_cache import AuthCache
from windvane.api.page_cache import PageCache
from windvane.api.users import Role
from windvane.core.store.engine import begin_write
from windvane.core.store.tables import dag

Client = Callable[[Role], TestClient]
V1 = "/api/v1"


def test_a_kept_page_needs_the_same_version_and_expires() -> None:
    clock = [0.0]
    cache = PageCache(10.0, lambda: clock[0], max_entries=2)
    cache.put("a", 7, b"A")
    assert cache.get("a", 7) == b"A" and cache.get("a", 8) is None  # the counter moved
    clock[0] = 10.0
    assert cache.get("a", 7) is None  # expired
    cache.put("a", 7, b"A")
    cache.put("b", 7, b"B")
    cache.get("a", 7)  # "a" was read last: "b" is the least recently used
    cache.put("c", 7, b"C")
    assert cache.get("b", 7) is None and cache.get("a", 7) == b"A" and cache.get("c", 7) == b"C"
    off = PageCache(0.0, lambda: clock[0])
    off.put("a", 1, b"A")
    assert off.get("a", 1) is None


def test_auth_memory_expires_is_bounded_and_can_be_off() -> None:
    clock = [0.0]
    cache: AuthCache[str] = AuthCache(5.0, lambda: clock[0], max_entries=2)
    cache.put("t1", "alice")
    cache.put("t2", "bob")
    cache.put("t3", "carol")  # the oldest goes
    assert cache.get("t1") is None and cache.get("t2") == "bob" and len(cache) == 2
    clock[0] = 5.0
    assert cache.get("t2") is None
    cache.put("t2", "bob")
    cache.clear()
    assert cache.get("t2") is None
    off: AuthCache[str] = AuthCache(0.0, lambda: clock[0])
    off.put("t", "x")
    assert off.get("t") is None


def test_auth_memory_asks_one_caller_to_recheck_past_half_its_ttl() -> None:
    clock = [0.0]
    cache: AuthCache[str] = AuthCache(4.0, lambda: clock[0])
    cache.put("t", "alice")
    assert cache.remembered("t") == ("alice", False)
    clock[0] = 2.0
    assert cache.remembered("t") == ("alice", True)  # this caller re-checks it
    assert cache.remembered("t") == ("alice", False)  # the others don't
    before = cache.generation
    cache.clear()  # a revocation here while that re-check ran: its answer is not remembered
    cache.put("t", "alice", before)
    assert cache.get("t") is None
    cache.put("t", "alice", cache.generation)
    cache.forget("t")
    assert cache.remembered("t") == (None, False)


def test_the_dag_list_is_kept_until_a_dag_changes(
    client: Client, example_dag: str, app: FastAPI, engine: Engine
) -> None:
    viewer = client(Role.VIEWER)
    pages: PageCache = app.state.api.dag_pages
    first = viewer.get(f"{V1}/dags").json()
    assert viewer.get(f"{V1}/dags").json() == first and pages.hits == 1
    with begin_write(engine) as conn:  # a re-parse that changed nothing: the counter stays
        conn.execute(update(dag).values(last_parsed_at=pendulum.datetime(2030, 1, 1, tz="UTC")))
    assert viewer.get(f"{V1}/dags").json() == first and pages.hits == 2
    with begin_write(engine) as conn:  # a pause from anywhere (another process): the counter moves
        conn.execute(update(dag).values(is_paused=True))
    fresh = viewer.get(f"{V1}/dags").json()
    assert fresh["dags"][0]["is_paused"] is True and fresh["dags"][0]["last_parsed_at"].startswith("2030")
    assert viewer.get(f"{V1}/dags", params={"paused": "false"}).json()["total_entries"] == 0  # its own key
