"""Splitting SQL scripts into statements, and making handler results JSON-able XCom values."""

from __future__ import annotations

import datetime as dt
import sqlite3
import uuid
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from windvane.core.authoring.hooks.sql_rows import jsonable_rows
from windvane.core.authoring.hooks.sql_split import split_sql
from windvane.core.model import json_values


@pytest.mark.parametrize(
    ("script", "statements"),
    [
        ("SELECT 1; SELECT 2;", ["SELECT 1", "SELECT 2"]),
        ("SELECT ';'; SELECT 2", ["SELECT ';'", "SELECT 2"]),
        ("SELECT 'it''s; fine'", ["SELECT 'it''s; fine'"]),
        ("SELECT 'a\\'; b'; SELECT 3", ["SELECT 'a\\'; b'", "SELECT 3"]),  # MySQL's backslash escape
        ('SELECT "odd;name" FROM t', ['SELECT "odd;name" FROM t']),
        ("SELECT `a;b` FROM t; SELECT 2", ["SELECT `a;b` FROM t", "SELECT 2"]),
        ("SELECT 1; -- done; really\nSELECT 2", ["SELECT 1", "-- done; really\nSELECT 2"]),
        ("SELECT 1 /* ; */; SELECT 2", ["SELECT 1 /* ; */", "SELECT 2"]),
        (
            "CREATE FUNCTION f() RETURNS int AS $b$ BEGIN RETURN 1; END; $b$ LANGUAGE sql; SELECT f()",
            ["CREATE FUNCTION f() RETURNS int AS $b$ BEGIN RETURN 1; END; $b$ LANGUAGE sql", "SELECT f()"],
        ),
        ("DO $$ BEGIN PERFORM 1; END $$; SELECT $1", ["DO $$ BEGIN PERFORM 1; END $$", "SELECT $1"]),
        ("  ;; -- only a comment\n ; /* and this */", []),
        ("SELECT 'unterminated; x", ["SELECT 'unterminated; x"]),
    ],
)  # fmt: skip
def test_split_sql(script: str, statements: list[str]) -> None:
    assert split_sql(script) == statements


_PLAIN = st.text(alphabet="abc xyz019()=,*\n", min_size=1).filter(lambda s: s.strip())
_LITERAL = st.text(alphabet="ab;-*/ $", max_size=8).map(lambda s: "'" + s.replace("'", "''") + "'")
_STATEMENT = (
    st.lists(st.one_of(_PLAIN, _LITERAL), min_size=1, max_size=5).map(" ".join).filter(lambda s: s.strip())
)


@given(st.lists(_STATEMENT, min_size=1, max_size=6))
def test_joined_statements_split_back_whatever_their_literals_hold(statements: list[str]) -> None:
    """Statements whose literals hold ``;``, ``--``, ``/*`` and ``$`` come back as written."""
    assert split_sql(";\n".join(statements)) == [s.strip() for s in statements]


def test_rows_become_lists_with_exact_values_kept() -> None:
    rows = [
        (1, "a", Decimal("1.10"), dt.date(2024, 1, 2), dt.datetime(2024, 1, 2, 3, 4, tzinfo=dt.UTC), None),
        (2, b"\x00\xff", uuid.UUID(int=1), {"k": (1, 2)}, dt.timedelta(seconds=3), dt.time(4, 5)),
    ]
    result = jsonable_rows(rows)
    assert result[0] == list(rows[0])
    assert result[1] == [
        2,
        "AP8=",
        "00000000-0000-0000-0000-000000000001",
        {"k": [1, 2]},
        rows[1][4],
        rows[1][5],
    ]
    assert json_values.deserialize(json_values.serialize(result)) == result  # storable as an XCom


def test_driver_row_objects_become_lists() -> None:
    db = sqlite3.connect(":memory:")
    db.row_factory = sqlite3.Row
    (row,) = db.execute("SELECT 1 AS a, 'x' AS b").fetchall()
    assert jsonable_rows([row]) == [[1, "x"]]
    assert jsonable_rows(object.__new__(type("Odd", (), {"__str__": lambda self: "odd"}))) == "odd"
