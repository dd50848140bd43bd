"""``[database] pool_size / max_overflow / pool_timeout / pool_recycle`` reach the engine's pool
(issue 15 hardening, defect 4), on SQLite and PostgreSQL, and bad values are refused naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.pool import QueuePool

from windvane.cli.wiring import create_engine
from windvane.core.store.engine import create_db_engine
from windvane.errors import ConfigError, StoreError
from windvane.settings import load_settings


def test_the_settings_reach_the_pool(tmp_path: Path, db_url: str) -> None:
    settings = load_settings(
        home=tmp_path,
        environ={
            "WINDVANE__DATABASE__SQL_ALCHEMY_CONN": db_url,
            "WINDVANE__DATABASE__POOL_SIZE": "3",
            "WINDVANE__DATABASE__MAX_OVERFLOW": "7",
            "WINDVANE__DATABASE__POOL_TIMEOUT": "4.5",
            "WINDVANE__DATABASE__POOL_RECYCLE": "900",
        },
    )
    engine = create_engine(settings)
    try:
        pool = engine.pool
        assert isinstance(pool, QueuePool)
        assert (pool.size(), pool._max_overflow, pool._timeout, pool._recycle) == (3, 7, 4.5, 900)
    finally:
        engine.dispose()


def test_the_defaults_are_airflows(tmp_path: Path) -> None:
    database = load_settings(home=tmp_path, environ={}).database
    assert (database.pool_size, database.max_overflow, database.pool_timeout, database.pool_recycle) == (
        5,
        10,
        30.0,
        1800.0,
    )


def test_a_full_pool_fails_after_pool_timeout(db_url: str) -> None:
    engine: Engine = create_db_engine(db_url, pool_size=1, max_overflow=0, pool_timeout=0.2)
    try:
        with engine.connect() as held:
            held.execute(text("SELECT 1"))
            with pytest.raises(PoolTimeoutError), engine.connect():
                pass
        with engine.connect() as again:  # returned: free again
            assert again.execute(text("SELECT 1")).scalar_one() == 1
    finally:
        engine.dispose()


def test_overflow_connections_are_opened_beyond_the_pool_size(db_url: str) -> None:
    engine = create_db_engine(db_url, pool_size=1, max_overflow=1, pool_timeout=0.2)
    try:
        a, b = engine.raw_connection(), engine.raw_connection()  # no transaction: no SQLite lock
        try:
            with pytest.raises(PoolTimeoutError):
                engine.raw_connection()
        finally:
            a.close()
            b.close()
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("MAX_OVERFLOW", "-2", "'database.max_overflow' (from env WINDVANE__DATABASE__MAX_OVERFLOW) must be"),
        ("POOL_TIMEOUT", "0", "'database.pool_timeout' (from env WINDVANE__DATABASE__POOL_TIMEOUT) must be"),
        ("POOL_RECYCLE", "0", "'database.pool_recycle' (from env WINDVANE__DATABASE__POOL_RECYCLE) must be"),
        ("POOL_SIZE", "-1", "'database.pool_size' (from env WINDVANE__DATABASE__POOL_SIZE) must be"),
    ],
)
def test_a_bad_value_names_its_key(tmp_path: Path, key: str, value: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(home=tmp_path, environ={f"WINDVANE__DATABASE__{key}": value})
    assert expected in str(info.value)


def test_pool_recycle_minus_one_means_never(tmp_path: Path) -> None:
    settings = load_settings(home=tmp_path, environ={"WINDVANE__DATABASE__POOL_RECYCLE": "-1"})
    assert settings.database.pool_recycle == -1


def test_the_engine_factory_refuses_bad_values_naming_them() -> None:
    with pytest.raises(StoreError, match=r"max_overflow=-5 .*pool_recycle=0"):
        create_db_engine("sqlite://", max_overflow=-5, pool_recycle=0)


def test_an_in_memory_sqlite_database_takes_the_settings_it_can(tmp_path: Path) -> None:
    engine = create_db_engine("sqlite://", pool_size=2, max_overflow=3, pool_timeout=1.0, pool_recycle=60)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT 1")).scalar_one() == 1
    finally:
        engine.dispose()
