"""The ``dag_change`` counter (migration 0006) and the scheduler's DAG poll that reads it."""

from __future__ import annotations

from datetime import datetime, timedelta

import pendulum
from sqlalchemy import Engine, delete, select

from tests.store.helpers import T0
from windvane.core.authoring.dag import DAG
from windvane.core.authoring.operators.empty import EmptyOperator
from windvane.core.authoring.serialize import serialize_dag
from windvane.core.model.clock import FakeClock
from windvane.core.scheduler.announce import Announcer
from windvane.core.scheduler.book import Book
from windvane.core.scheduler.observer import SchedulerObserver
from windvane.core.scheduler.pass_work import PassWork
from windvane.core.scheduler.polling import refresh_dags
from windvane.core.store.dags import deactivate, set_next_dagrun, set_paused, upsert_dag
from windvane.core.store.tables import dag, dag_change


def seq(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(dag_change.c.seq)).scalar_one())


def store(engine: Engine, dag_id: str, dag_hash: str = "h1", parsed: datetime = T0) -> None:
    with DAG(dag_id, schedule=None, start_date=T0) as authored:
        EmptyOperator(task_id="t")
    with engine.begin() as conn:
        upsert_dag(
            conn,
            dag_id=dag_id,
            fileloc=f"/dags/{dag_id}.py",
            dag_hash=dag_hash,
            serialized=serialize_dag(authored).to_json(),
            last_parsed_at=parsed,
        )


def test_every_change_the_scheduler_reads_moves_the_counter_and_a_mere_reparse_does_not(
    engine: Engine,
) -> None:
    start = seq(engine)
    store(engine, "a")
    after_insert = seq(engine)
    assert after_insert > start
    store(engine, "a", parsed=T0 + timedelta(minutes=5))  # parsed again, nothing changed
    assert seq(engine) == after_insert
    steps = [
        lambda conn: upsert_dag(
            conn, dag_id="a", fileloc="/dags/a.py", dag_hash="h2", serialized="{}", last_parsed_at=T0
        ),
        lambda conn: set_paused(conn, "a", True),
        lambda conn: set_next_dagrun(conn, "a", T0, T0, T0, T0),
        lambda conn: deactivate(conn, ["a"]),
        lambda conn: conn.execute(delete(dag).where(dag.c.dag_id == "a")),
    ]
    for step in steps:
        before = seq(engine)
        with engine.begin() as conn:
            step(conn)
        assert seq(engine) > before


def test_the_scheduler_reads_dag_rows_only_when_the_counter_moved(engine: Engine) -> None:
    store(engine, "a")
    book = Book(Announcer(SchedulerObserver(), FakeClock(T0)), previous_state=lambda *_: None)
    with engine.begin() as conn:
        refresh_dags(conn, book, pendulum.now("UTC"), PassWork())
    assert set(book.dags) == {"a"}
    book.dags = {}  # forgotten: the rows are not read again while nothing changed
    with engine.begin() as conn:
        refresh_dags(conn, book, pendulum.now("UTC"), PassWork())
    assert book.dags == {}
    with engine.begin() as conn:
        set_paused(conn, "a", True)
    with engine.begin() as conn:
        refresh_dags(conn, book, pendulum.now("UTC"), PassWork())
    assert set(book.dags) == {"a"} and book.dags["a"].is_paused


def test_a_change_stamps_only_its_row_and_the_scheduler_reads_only_the_stamped_rows(engine: Engine) -> None:
    for dag_id in ("a", "b", "c"):
        store(engine, dag_id)
    book = Book(Announcer(SchedulerObserver(), FakeClock(T0)), previous_state=lambda *_: None)
    with engine.begin() as conn:
        refresh_dags(conn, book, pendulum.now("UTC"), PassWork())
    before = dict(book.dags)
    with engine.connect() as conn:
        stamps = dict(conn.execute(select(dag.c.dag_id, dag.c.change_seq)).all())
    with engine.begin() as conn:
        set_next_dagrun(conn, "b", T0, T0, T0, T0)
    with engine.connect() as conn:
        after = dict(conn.execute(select(dag.c.dag_id, dag.c.change_seq)).all())
    assert after["b"] == seq(engine) > stamps["b"]
    assert {k: v for k, v in after.items() if k != "b"} == {k: v for k, v in stamps.items() if k != "b"}
    with engine.begin() as conn:
        refresh_dags(conn, book, pendulum.now("UTC"), PassWork())
    assert book.dags["a"] is before["a"] and book.dags["c"] is before["c"]  # not read again
    assert book.dags["b"] is not before["b"] and book.dags["b"].next_create_after == T0
    assert [e.dag_id for e in book.due.due(T0.timestamp(), book.dags)] == ["b"]


def test_a_deleted_dag_row_makes_the_scheduler_read_every_row(engine: Engine) -> None:
    for dag_id in ("a", "b"):
        store(engine, dag_id)
    book = Book(Announcer(SchedulerObserver(), FakeClock(T0)), previous_state=lambda *_: None)
    with engine.begin() as conn:
        refresh_dags(conn, book, pendulum.now("UTC"), PassWork())
    with engine.begin() as conn:
        set_next_dagrun(conn, "b", T0, T0, T0, T0)
        conn.execute(delete(dag).where(dag.c.dag_id == "a"))
    with engine.connect() as conn:
        deleted = conn.execute(select(dag_change.c.deleted_seq)).scalar_one()
    assert deleted > 0
    with engine.begin() as conn:
        refresh_dags(conn, book, pendulum.now("UTC"), PassWork())
    assert set(book.dags) == {"b"} and book.dags["b"].next_create_after == T0
    store(engine, "c")  # an insert is stamped too
    with engine.begin() as conn:
        refresh_dags(conn, book, pendulum.now("UTC"), PassWork())
    assert set(book.dags) == {"b", "c"}


def test_a_counter_that_went_back_makes_the_scheduler_read_every_row(engine: Engine) -> None:
    store(engine, "a")
    book = Book(Announcer(SchedulerObserver(), FakeClock(T0)), previous_state=lambda *_: None)
    with engine.begin() as conn:
        refresh_dags(conn, book, pendulum.now("UTC"), PassWork())
    book.dags = {}
    with engine.begin() as conn:  # a database reset under a running scheduler: stamps start over
        conn.execute(dag_change.update().values(seq=0))
    with engine.begin() as conn:
        refresh_dags(conn, book, pendulum.now("UTC"), PassWork())
    assert set(book.dags) == {"a"}
