from __future__ import annotations

import pytest
from sqlalchemy import Engine

from windvane.core.store.pools import (
    DEFAULT_POOL,
    PoolRow,
    delete_pool,
    ensure_pool,
    get_pool,
    list_pools,
    set_pool,
)
from windvane.errors import NotFoundError, StoreError


def test_set_get_list_delete(engine: Engine) -> None:
    with engine.begin() as conn:
        assert set_pool(conn, "gpu", 2, "two cards") == PoolRow("gpu", 2, "two cards")
        set_pool(conn, "api", 5)
        set_pool(conn, "gpu", 4)  # replaces slots and description
        assert get_pool(conn, "gpu") == PoolRow("gpu", 4, None)
        assert [p.name for p in list_pools(conn)] == ["api", DEFAULT_POOL, "gpu"]
        delete_pool(conn, "api")
        assert [p.name for p in list_pools(conn)] == [DEFAULT_POOL, "gpu"]


def test_ensure_pool_keeps_an_existing_pool(engine: Engine) -> None:
    with engine.begin() as conn:
        ensure_pool(conn, "p", 3)
        ensure_pool(conn, "p", 9, "ignored")
        assert get_pool(conn, "p") == PoolRow("p", 3, None)


def test_unknown_pools_are_not_found(engine: Engine) -> None:
    with engine.begin() as conn:
        with pytest.raises(NotFoundError, match="'nope'"):
            get_pool(conn, "nope")
        with pytest.raises(NotFoundError, match="'nope'"):
            delete_pool(conn, "nope")


def test_default_pool_cannot_be_deleted(engine: Engine) -> None:
    with engine.begin() as conn:
        with pytest.raises(StoreError, match="default_pool"):
            delete_pool(conn, DEFAULT_POOL)
        assert get_pool(conn, DEFAULT_POOL).slots == 128


@pytest.mark.parametrize(("name", "slots"), [("", 1), ("x" * 257, 1), ("neg", -1)])
def test_bad_pools_are_refused(sqlite_engine: Engine, name: str, slots: int) -> None:
    with sqlite_engine.begin() as conn, pytest.raises(StoreError):
        set_pool(conn, name, slots)
