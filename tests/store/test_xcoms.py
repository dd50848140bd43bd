from __future__ import annotations

from sqlalchemy import Engine, delete, func, select

from tests.store.helpers import T0, add_run
from windvane.core.store.tables import dag_run, xcom
from windvane.core.store.xcoms import SqlXComReader, clear_xcoms, write_xcoms
from windvane.core.task_api.task_instance import RuntimeTaskInstance, XComReader


def test_write_read_replace(engine: Engine) -> None:
    with engine.begin() as conn:
        run = add_run(conn, "etl", "r1")
        write_xcoms(conn, run, "etl", "r1", "extract", {"return_value": "[1, 2]", "n": "2"}, T0)
    reader: XComReader = SqlXComReader(engine)
    assert reader.get(dag_id="etl", run_id="r1", task_id="extract", key="return_value") == "[1, 2]"
    assert reader.get(dag_id="etl", run_id="r1", task_id="extract", key="n") == "2"
    assert reader.get(dag_id="etl", run_id="r1", task_id="other", key="n") is None

    with engine.begin() as conn:  # a retry pushes only one key: the old ones go
        write_xcoms(conn, run, "etl", "r1", "extract", {"return_value": '"again"'}, T0)
    assert reader.get(dag_id="etl", run_id="r1", task_id="extract", key="n") is None
    ti = RuntimeTaskInstance(dag_id="etl", task_id="load", run_id="r1", reader=reader)
    assert ti.xcom_pull("extract") == "again"
    assert ti.xcom_pull("extract", key="n", default=0) == 0


def test_mapped_values_are_kept_apart(engine: Engine) -> None:
    with engine.begin() as conn:
        run = add_run(conn, "etl", "r1")
        write_xcoms(conn, run, "etl", "r1", "t", {"k": "1"}, T0, map_index=0)
        write_xcoms(conn, run, "etl", "r1", "t", {"k": "-1"}, T0)
        write_xcoms(conn, run, "etl", "r1", "t", {}, T0, map_index=0)
        assert conn.scalar(select(func.count()).select_from(xcom)) == 1
    assert SqlXComReader(engine).get(dag_id="etl", run_id="r1", task_id="t", key="k") == "-1"


def test_clear_xcoms(engine: Engine) -> None:
    with engine.begin() as conn:
        run = add_run(conn, "etl", "r1")
        other = add_run(conn, "etl", "r2", day=1)
        for task in ("a", "b", "c"):
            write_xcoms(conn, run, "etl", "r1", task, {"k": "1", "j": "2"}, T0)
        write_xcoms(conn, other, "etl", "r2", "a", {"k": "1"}, T0)
        assert clear_xcoms(conn, run, ["a", "b"]) == 4
        assert clear_xcoms(conn, run, []) == 0
        left = conn.execute(select(xcom.c.run_id, xcom.c.task_id).distinct().order_by(xcom.c.run_id)).all()
        assert [tuple(r) for r in left] == [("r1", "c"), ("r2", "a")]


def test_deleting_a_run_deletes_its_xcoms(engine: Engine) -> None:
    with engine.begin() as conn:
        run = add_run(conn, "etl", "r1")
        write_xcoms(conn, run, "etl", "r1", "a", {"k": "1"}, T0)
        conn.execute(delete(dag_run))
        assert conn.scalar(select(func.count()).select_from(xcom)) == 0
