from __future__ import annotations

import pytest
from sqlalchemy import Column, Engine, Integer, MetaData, Table, insert, inspect, select

from windvane.core.store import pools
from windvane.core.store.engine import create_db_engine
from windvane.core.store.migrate import (
    check,
    drop_all,
    head_revisions,
    migrate,
    require_current,
    reset,
)
from windvane.core.store.tables import metadata, slot_pool
from windvane.errors import StoreError


def test_check_before_and_after_migrate(db_url: str) -> None:
    engine = create_db_engine(db_url)
    try:
        before = check(engine)
        # core's head and the installed plug-in branches' (Windvane's own alerting)
        assert (before.current, before.head) == (None, ", ".join(head_revisions()))
        assert not before.is_current
        with pytest.raises(
            StoreError, match=r"is empty \(no Windvane tables\): run .windvane db migrate. to create them"
        ):
            require_current(engine)

        migrate(engine)

        after = check(engine)
        assert after.current == after.head == ", ".join(head_revisions())
        assert after.head.startswith("0011, ")  # core's head first, then the plug-ins' (alerting, api)
        assert after.is_current
        require_current(engine)
        assert set(metadata.tables) <= set(inspect(engine).get_table_names())
        with engine.connect() as conn:
            assert pools.list_pools(conn) == [pools.PoolRow("default_pool", 128, "Default pool")]
    finally:
        engine.dispose()


def test_default_pool_slots_is_a_parameter(db_url: str) -> None:
    engine = create_db_engine(db_url)
    try:
        migrate(engine, default_pool_slots=16)
        with engine.connect() as conn:
            assert pools.get_pool(conn, "default_pool").slots == 16
    finally:
        engine.dispose()


def test_migrating_twice_changes_nothing(engine: Engine) -> None:
    with engine.begin() as conn:
        pools.set_pool(conn, "default_pool", 7)
        pools.set_pool(conn, "extra", 3)
    migrate(engine)
    migrate(engine, default_pool_slots=999)
    assert check(engine).is_current
    with engine.connect() as conn:
        assert [(p.name, p.slots) for p in pools.list_pools(conn)] == [("default_pool", 7), ("extra", 3)]


def test_reset_drops_the_data_and_migrates_again(db_url: str) -> None:
    engine = create_db_engine(db_url)
    try:
        migrate(engine)
        with engine.begin() as conn:
            conn.execute(insert(slot_pool).values(pool="gone", slots=1))
        reset(engine, default_pool_slots=4)
        assert check(engine).is_current
        with engine.connect() as conn:
            assert [(p.name, p.slots) for p in pools.list_pools(conn)] == [("default_pool", 4)]
    finally:
        engine.dispose()


def test_drop_all_removes_windvane_tables_and_version_but_nothing_else(db_url: str) -> None:
    engine = create_db_engine(db_url)
    other = Table("not_windvane", MetaData(), Column("id", Integer, primary_key=True))
    try:
        migrate(engine)
        with engine.begin() as conn:
            other.create(conn)
        drop_all(engine)
        assert inspect(engine).get_table_names() == ["not_windvane"]
        assert check(engine).current is None
        with engine.connect() as conn:
            assert conn.execute(select(other)).all() == []
    finally:
        with engine.begin() as conn:
            other.drop(conn, checkfirst=True)
        engine.dispose()
