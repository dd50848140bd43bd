"""SQLExecuteQueryOperator against the real PostgreSQL and MariaDB of this machine, and SQLite."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pendulum
import pytest

from tests.io_operators.conftest import DictResolver
from windvane import DAG
from windvane.core.authoring.hooks.sql import SqlHook
from windvane.core.authoring.hooks.sql_rows import fetch_one_handler
from windvane.core.authoring.operators.sql import SQLExecuteQueryOperator
from windvane.errors import TaskCommandError
from windvane.testing import run_task

START = pendulum.datetime(2024, 1, 1, tz="UTC")
PASSWORD = "hunter2-Very-Secret"


@dataclass
class Db:
    """One database under test: its connection id and how its driver writes a named placeholder."""

    conn_id: str
    kind: str

    def param(self, name: str) -> str:
        return f":{name}" if self.kind == "sqlite" else f"%({name})s"


@pytest.fixture(params=["sqlite", "postgres", "mariadb"])
def db(request: pytest.FixtureRequest, connections: DictResolver, tmp_path: Path) -> Db:
    kind: str = request.param
    if kind == "sqlite":
        connections.add("db", f'{{"conn_type": "sqlite", "host": "{tmp_path / "test.db"}"}}')
    elif kind == "postgres":
        schema = request.getfixturevalue("pg_schema")
        connections.add(
            "db",
            f'{{"conn_type": "postgres", "host": "127.0.0.1", "port": 5432, "login": "postgres", '
            f'"password": "{PASSWORD}", "schema": "test", '
            f'"extra": {{"options": "-c search_path={schema}"}}}}',
        )
    else:
        database = request.getfixturevalue("mariadb_database")
        connections.add("db", f"mysql://root@127.0.0.1:3306/{database}")
    return Db("db", kind)


def run_sql(sql: str | list[str], *, dag_id: str = "sql", **kwargs: object) -> object:
    with DAG(dag_id, schedule=None, start_date=START, template_searchpath=kwargs.pop("searchpath", [])):
        op = SQLExecuteQueryOperator(task_id="q", conn_id=kwargs.pop("conn_id", "db"), sql=sql, **kwargs)
    return run_task(op).result


def test_rows_go_to_xcom_as_lists_with_dates_and_decimals(db: Db) -> None:
    run_sql("CREATE TABLE t (id INTEGER, name VARCHAR(20), price DECIMAL(10, 2), day DATE)")
    run_sql(
        "INSERT INTO t VALUES ({}, {}, {}, {})".format(*map(db.param, ["id", "name", "price", "day"])),
        parameters={
            "id": 1,
            "name": "widget",
            "price": 9.99 if db.kind == "sqlite" else Decimal("9.99"),
            "day": dt.date(2024, 1, 2),
        },
    )
    result = run_sql("SELECT id, name, price, day FROM t ORDER BY id")
    assert isinstance(result, list)
    (row,) = result
    assert row[:2] == [1, "widget"]
    assert Decimal(str(row[2])) == Decimal("9.99")  # SQLite stores DECIMAL as a float
    assert str(row[3]) == "2024-01-02"
    if db.kind != "sqlite":
        assert row[2] == Decimal("9.99") and row[3] == dt.date(2024, 1, 2)


def test_split_statements_return_the_last_or_every_result(db: Db) -> None:
    script = """
        CREATE TABLE s (v INTEGER);  -- a comment with a ; in it
        INSERT INTO s VALUES (1);
        INSERT INTO s VALUES (2);
        SELECT v FROM s WHERE 'a;b' <> '' ORDER BY v;
    """
    assert run_sql(script, split_statements=True) == [[1], [2]]
    every = run_sql("SELECT COUNT(*) FROM s; SELECT MAX(v) FROM s", split_statements=True, return_last=False)
    assert every == [[[2]], [[2]]]
    assert run_sql(["SELECT 1", "SELECT 2"]) == [[[1]], [[2]]]  # a list: one result per statement


def test_without_autocommit_a_failure_rolls_back_every_statement(db: Db) -> None:
    run_sql("CREATE TABLE a (v INTEGER)")
    with pytest.raises(TaskCommandError):
        run_sql(["INSERT INTO a VALUES (1)", "INSERT INTO nowhere VALUES (1)"])
    assert run_sql("SELECT COUNT(*) FROM a") == [[0]]
    with pytest.raises(TaskCommandError):
        run_sql(["INSERT INTO a VALUES (1)", "INSERT INTO nowhere VALUES (1)"], autocommit=True)
    assert run_sql("SELECT COUNT(*) FROM a") == [[1]]  # with autocommit the first insert stayed


def test_bad_sql_names_task_connection_and_statement_never_the_password(db: Db) -> None:
    with pytest.raises(TaskCommandError) as caught:
        run_sql("SELECT 1; SELEKT oops", split_statements=True)
    message = str(caught.value)
    assert message.startswith("task 'q': connection 'db'")
    assert "statement 2 of 2 failed" in message and "SELEKT oops" in message
    assert PASSWORD not in message and PASSWORD not in repr(caught.value.__cause__)


def test_a_sql_file_is_rendered_with_jinja(db: Db, tmp_path: Path) -> None:
    (tmp_path / "report.sql").write_text(
        "SELECT '{{ ds }}', {{ params.n }}{% if params.n > 100 %} nope{% endif %}\n"
    )
    with DAG("sqlfile", schedule=None, start_date=START, template_searchpath=[str(tmp_path)]):
        op = SQLExecuteQueryOperator(task_id="q", conn_id="db", sql="report.sql", params={"n": 7})
    result = run_task(op, logical_date=pendulum.datetime(2024, 3, 4, tz="UTC")).result
    assert result == [["2024-03-04", 7]]


def test_handler_none_or_no_xcom_push_fetches_nothing(db: Db) -> None:
    assert run_sql("SELECT 1", handler=None) is None
    assert run_sql("SELECT 1", do_xcom_push=False) is None
    assert run_sql("SELECT 1, 2", handler=fetch_one_handler) == [1, 2]


def test_unreachable_server_names_the_connection_not_the_password(connections: DictResolver) -> None:
    connections.add("down", f"postgres://app:{PASSWORD}@127.0.0.1:1/nowhere")
    with pytest.raises(TaskCommandError) as caught:
        run_sql("SELECT 1", conn_id="down")
    assert "task 'q': connection 'down' (postgres): cannot connect" in str(caught.value)
    assert PASSWORD not in str(caught.value)


def test_hook_urls_follow_the_connection_type(connections: DictResolver) -> None:
    connections.add("pg", "postgres://u:p%40ss@db.example:5433/sales?sslmode=require&cursor=dict")
    connections.add("my", "mariadb://u@db.example/shop?charset=utf8mb4")
    connections.add("lite", "sqlite://%2Ftmp%2Fx.db")
    connections.add("ftp", "ftp://host")
    pg = SqlHook("pg")
    assert pg.sqlalchemy_url().render_as_string(hide_password=False) == (
        "postgresql+psycopg://u:p%40ss@db.example:5433/sales"
    )
    assert pg.connect_args() == {"sslmode": "require"}  # keys the driver does not know are dropped
    assert SqlHook("my", database="other").sqlalchemy_url().render_as_string() == (
        "mysql+pymysql://u@db.example/other"
    )
    assert SqlHook("my").connect_args() == {"charset": "utf8mb4"}
    assert SqlHook("lite").sqlalchemy_url().database == "/tmp/x.db"
    with pytest.raises(Exception, match="conn_type 'ftp' is not a SQL database"):
        SqlHook("ftp").sqlalchemy_url()


def test_hook_records_and_first_row(connections: DictResolver, tmp_path: Path) -> None:
    connections.add("lite", f'{{"conn_type": "sqlite", "host": "{tmp_path / "h.db"}"}}')
    hook = SqlHook("lite")
    hook.run("CREATE TABLE r (v INTEGER); INSERT INTO r VALUES (1), (2)", split_statements=True)
    assert hook.get_records("SELECT v FROM r ORDER BY v") == [(1,), (2,)]
    assert hook.get_first("SELECT v FROM r WHERE v > ?", parameters=[1]) == (2,)
    assert hook.descriptions[0] is not None and hook.descriptions[0][0][0] == "v"


def test_a_postgres_function_body_survives_splitting(connections: DictResolver, pg_schema: str) -> None:
    connections.add("pg", f"postgres://postgres@127.0.0.1:5432/test?options=-c+search_path%3D{pg_schema}")
    script = """
        CREATE FUNCTION twice(n int) RETURNS int AS $fn$
        BEGIN
            n := n * 2;  -- a ; inside the body
            RETURN n;
        END;
        $fn$ LANGUAGE plpgsql;
        SELECT twice(21);
    """
    assert run_sql(script, conn_id="pg", split_statements=True) == [[42]]
