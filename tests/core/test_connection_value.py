"""The Connection value: its URI and JSON forms (Airflow's layout) and its secret-safe copy."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from windvane.core.authoring.hooks.base import BaseHook
from windvane.core.model.connection import Connection
from windvane.core.task_api import secrets
from windvane.errors import ConfigError, NotFoundError, StoreError

_TEXT = st.text(min_size=1, max_size=12).filter(lambda s: s.strip() == s)


def test_a_uri_becomes_fields_with_the_query_as_extra() -> None:
    conn = Connection.from_uri("db", "postgresql://u%40s:p%2Fw@h:5432/warehouse?sslmode=require")
    assert (conn.conn_type, conn.host, conn.port) == ("postgresql", "h", 5432)
    assert (conn.login, conn.password, conn.schema) == ("u@s", "p/w", "warehouse")
    assert conn.extra_dejson == {"sslmode": "require"}


@given(login=_TEXT, password=_TEXT, schema=_TEXT, port=st.integers(1, 65535))
def test_the_uri_form_round_trips(login: str, password: str, schema: str, port: int) -> None:
    conn = Connection(
        "c", conn_type="my_type", host="example.org", port=port, login=login,
        password=password, schema=schema, extra='{"a": {"nested": 1}}',
    )  # fmt: skip
    assert Connection.from_uri("c", conn.get_uri()) == conn


def test_the_json_form_accepts_extra_as_an_object_and_names_unknown_fields() -> None:
    conn = Connection.from_text("api", '{"conn_type": "http", "host": "a", "extra": {"k": 1}}')
    assert conn.extra_dejson == {"k": 1}
    with pytest.raises(ConfigError, match=r"'api'.*unknown field\(s\) hots"):
        Connection.from_text("api", '{"hots": "a"}')


def test_a_uri_without_a_scheme_is_refused_without_showing_its_password() -> None:
    with pytest.raises(ConfigError, match="'bad'") as info:
        Connection.from_uri("bad", "//user:hunter2@host")
    assert "hunter2" not in str(info.value)


def test_redacted_hides_the_password() -> None:
    assert Connection("c", password="hunter2").redacted().password == "***"


class _Resolver:
    def get_connection(self, conn_id: str) -> Connection | None:
        return Connection(conn_id, host="h") if conn_id == "known" else None

    def get_variable(self, key: str) -> str | None:
        return None


def test_base_hook_reads_through_the_installed_resolver() -> None:
    secrets.install_resolver(None)
    with pytest.raises(StoreError, match="not configured"):
        BaseHook.get_connection("known")
    secrets.install_resolver(_Resolver())
    try:
        assert BaseHook.get_connection("known").host == "h"
        with pytest.raises(NotFoundError, match="'missing'"):
            BaseHook.get_connection("missing")
    finally:
        secrets.install_resolver(None)


def test_only_the_first_slash_of_the_path_is_dropped_so_absolute_sqlite_paths_survive() -> None:
    assert Connection.from_uri("lite", "sqlite:////abs/file.db").schema == "/abs/file.db"
