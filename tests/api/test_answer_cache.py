"""List answers kept for ``[api] list_cache_seconds`` per path, query and role
(:mod:`windvane.api.answer_cache`), served before routing to callers this process remembers
(:mod:`windvane.api.kept_answers`): pure parts, then through the API with the cache on."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, update

from windvane.api.answer_cache import AnswerCache
from windvane.api.app import create_app
from windvane.api.config import ApiConfig
from windvane.api.users import Role
from windvane.core.store.engine import begin_write
from windvane.core.store.tables import dag

V1 = "/api/v1"


def test_an_answer_expires_is_bounded_can_be_off_and_never_outlives_a_write() -> None:
    clock = [0.0]
    cache = AnswerCache(1.0, lambda: clock[0], max_entries=2)
    cache.put("a", b"A", cache.generation)
    assert cache.get("a") == b"A"
    clock[0] = 1.0
    assert cache.get("a") is None  # expired
    cache.put("a", b"A", cache.generation)
    cache.put("b", b"B", cache.generation)
    cache.get("a")
    cache.put("c", b"C", cache.generation)  # "b" was the least recently used
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (b"A", None, b"C")
    before_write = cache.generation
    cache.clear()  # a write: everything goes, and a read that began before it is not kept
    cache.put("d", b"D", before_write)
    assert cache.get("a") is None and cache.get("d") is None
    cache.put("d", b"D", cache.generation)
    assert cache.get("d") == b"D"
    off = AnswerCache(0.0, lambda: clock[0])
    off.put("a", b"A", off.generation)
    assert off.get("a") is None


@pytest.fixture
def cached_app(engine: Engine, log_folder: Path) -> FastAPI:
    return create_app(engine, ApiConfig(secret_key="k", log_folder=log_folder, list_cache_seconds=60))


@pytest.fixture
def as_role(cached_app: FastAPI, tokens: dict[Role, str]) -> Iterator[Callable[[Role], TestClient]]:
    opened: list[TestClient] = []

    def make(role: Role) -> TestClient:
        c = TestClient(cached_app, headers={"Authorization": f"Bearer {tokens[role]}"})
        opened.append(c)
        return c

    yield make
    for c in opened:
        c.close()


def _pause_in_the_store(engine: Engine, paused: bool) -> None:
    """A change made elsewhere (another process): nothing tells this API process."""
    with begin_write(engine) as conn:
        conn.execute(update(dag).values(is_paused=paused))


def test_a_kept_answer_is_served_until_this_process_writes(
    as_role: Callable[[Role], TestClient], cached_app: FastAPI, example_dag: str, engine: Engine
) -> None:
    viewer, operator = as_role(Role.VIEWER), as_role(Role.OPERATOR)
    answers: AnswerCache = cached_app.state.api.answers
    first = viewer.get(f"{V1}/dags").json()
    assert first["dags"][0]["is_paused"] is False
    _pause_in_the_store(engine, True)
    assert viewer.get(f"{V1}/dags").json() == first  # kept: the change elsewhere shows after the ttl
    assert answers.hits == 1
    tagged = viewer.get(f"{V1}/dags")
    assert viewer.get(f"{V1}/dags", headers={"If-None-Match": tagged.headers["etag"]}).status_code == 304
    # A write through this process forgets every kept answer at once.
    assert operator.patch(f"{V1}/dags/{example_dag}", json={"is_paused": False}).status_code == 200
    assert viewer.get(f"{V1}/dags").json()["dags"][0]["is_paused"] is False
    _pause_in_the_store(engine, True)
    assert viewer.get(f"{V1}/dags", params={"limit": 5}).json()["dags"][0]["is_paused"] is True  # its own key


def test_answers_are_kept_per_role_and_only_for_callers_let_in(
    as_role: Callable[[Role], TestClient], cached_app: FastAPI, example_dag: str, engine: Engine
) -> None:
    viewer, admin = as_role(Role.VIEWER), as_role(Role.ADMIN)
    answers: AnswerCache = cached_app.state.api.answers
    viewer.get(f"{V1}/dags")
    _pause_in_the_store(engine, True)
    assert admin.get(f"{V1}/dags").json()["dags"][0]["is_paused"] is True  # not the viewer's answer
    assert answers.hits == 0
    for stranger in (
        TestClient(cached_app),
        TestClient(cached_app, headers={"Authorization": "Bearer wv_not_a_token"}),
        TestClient(cached_app, headers={"Authorization": "Basic dmlld2VyOng="}),
    ):
        with stranger:
            assert stranger.get(f"{V1}/dags").status_code == 401
    assert answers.hits == 0


@pytest.mark.parametrize(
    "path",
    [
        "/dagRuns",
        "/dags/etl/dagRuns",
        "/pools",
        "/ui/recentRuns?dag_ids=etl",
        "/dags/etl/dagRuns/nope/taskInstances",
    ],
)
def test_every_list_keeps_its_answer_and_errors_are_not_kept(
    as_role: Callable[[Role], TestClient], cached_app: FastAPI, example_dag: str, path: str
) -> None:
    viewer = as_role(Role.VIEWER)
    answers: AnswerCache = cached_app.state.api.answers
    first = viewer.get(V1 + path)
    again = viewer.get(V1 + path)
    assert again.status_code == first.status_code and again.json() == first.json()
    assert answers.hits == (1 if first.status_code == 200 else 0)
