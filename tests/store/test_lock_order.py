"""The DAG processor and the scheduler take ``dag`` rows before ``dag_change``: no deadlock between them.

Every change to a ``dag`` row the scheduler reads fires a trigger that updates the single
``dag_change`` row, whose lock is held to the commit. The scheduler creating a run locks one DAG's
row (``FOR UPDATE SKIP LOCKED``), then sets its ``next_dagrun_*``: ``dag`` row, then ``dag_change``.
The processor writing several DAG rows used to change its first row (taking ``dag_change``) before
it reached the next one: if the scheduler held that one, each waited for the other and PostgreSQL
aborted one of them ("deadlock detected"). The processor now locks every ``dag`` row it may change
in ``dag_id`` order before it changes any (docs/scaling.md, "Lock order").

The interleaving is forced without sleeps: the scheduler's transaction locks ``b``, the processor's
runs until PostgreSQL reports its backend waiting for a lock (``pg_stat_activity``), and only then
does the scheduler write ``next_dagrun``, which is where the old order closed the cycle.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import pendulum
import pytest
from sqlalchemy import Connection, Engine, select, text, update

from windvane.core.authoring.dag import DAG
from windvane.core.authoring.operators.empty import EmptyOperator
from windvane.core.authoring.serialize import serialize_dag
from windvane.core.processor.store_ops import existing_dags, remove_files
from windvane.core.processor.store_writer import FileUpdate, ParsedDag, StoreWriter
from windvane.core.store import dags, run_owners
from windvane.core.store.engine import begin_write
from windvane.core.store.tables import dag as dag_t
from windvane.testing import register_dag

NOW = pendulum.datetime(2024, 3, 10, 12, tz="UTC")
NEXT = pendulum.datetime(2024, 3, 11, tz="UTC")
ON_POSTGRES = pytest.mark.parametrize("db_backend", ["postgres"], indirect=True)
FILE = "/dags/pair.py"

_WAITING = text(
    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
    "AND pid <> pg_backend_pid() AND pid <> :holder AND wait_event_type = 'Lock'"
)


def _dag(dag_id: str, task_id: str) -> DAG:
    with DAG(dag_id, schedule="@daily", start_date=pendulum.datetime(2024, 1, 1), catchup=False) as dag:
        EmptyOperator(task_id=task_id)
    dag.fileloc = FILE
    return dag


def _stored_pair(engine: Engine) -> None:
    for dag_id in ("a", "b"):
        register_dag(engine, _dag(dag_id, "t"), now=NOW)


def _reparsed_pair() -> FileUpdate:
    """The file of ``a`` and ``b`` parsed again, both DAGs changed (a new task id: a new dag_hash)."""
    parsed = []
    for dag_id in ("a", "b"):
        ser = serialize_dag(_dag(dag_id, "u"))
        parsed.append(ParsedDag(serialized=ser, text=ser.to_json(), dag_hash=ser.dag_hash))
    return FileUpdate(path=FILE, content_hash="h2", mtime=None, duration=0.1, dags=parsed)


def _wait_for_a_lock_wait(engine: Engine, holder: int, deadline_seconds: float = 30.0) -> None:
    """Return once a backend of this database other than ``holder`` waits for a lock."""
    deadline = time.monotonic() + deadline_seconds
    with engine.connect() as watcher:
        while watcher.execute(_WAITING, {"holder": holder}).scalar_one() == 0:
            watcher.rollback()
            if time.monotonic() > deadline:
                pytest.fail("the processor's transaction never waited for the scheduler's row lock")


def _against_the_scheduler(engine: Engine, processor: Callable[[Connection], object]) -> list[BaseException]:
    """Run ``processor`` in its own transaction while a scheduler's transaction holds ``b``'s row
    (as when creating its run) and, once the processor waits, sets ``b``'s next run. The errors
    either side raised."""
    errors: list[BaseException] = []

    def run_processor() -> None:
        try:
            with begin_write(engine) as conn:
                processor(conn)
        except BaseException as exc:
            errors.append(exc)

    with engine.connect() as scheduler:
        holder = int(scheduler.execute(text("SELECT pg_backend_pid()")).scalar_one())
        scheduler.commit()
        thread = threading.Thread(target=run_processor)
        try:
            with scheduler.begin():
                assert run_owners.lock_dag_for_creation(scheduler, "b") is not None
                thread.start()
                _wait_for_a_lock_wait(engine, holder)
                dags.set_next_dagrun(scheduler, "b", NEXT, NEXT, NEXT, NEXT)
        except BaseException as exc:
            errors.append(exc)
        finally:
            if thread.ident is not None:
                thread.join(timeout=60)
    assert not thread.is_alive()
    return errors


@ON_POSTGRES
def test_a_processor_batch_and_a_scheduler_creating_a_run_do_not_deadlock(engine: Engine) -> None:
    _stored_pair(engine)
    writer = StoreWriter()

    errors = _against_the_scheduler(engine, lambda conn: writer.write_batch(conn, [_reparsed_pair()], NOW))

    assert errors == []
    with engine.connect() as conn:
        rows = {r.dag_id: r for r in conn.execute(select(dag_t).order_by(dag_t.c.dag_id))}
        assert {dag_id: row.dag_hash for dag_id, row in rows.items()} == {
            dag_id: serialize_dag(_dag(dag_id, "u")).dag_hash for dag_id in ("a", "b")
        }
        assert rows["b"].next_dagrun_create_after is not None
        assert dags.get_dag(conn, "b").next_dagrun_create_after == NEXT  # the scheduler's write stands


@ON_POSTGRES
def test_deactivating_a_removed_files_dags_and_a_scheduler_creating_a_run_do_not_deadlock(
    engine: Engine, tmp_path: Path
) -> None:
    _stored_pair(engine)

    errors = _against_the_scheduler(engine, lambda conn: remove_files(conn, [FILE]))

    assert errors == []
    with engine.connect() as conn:
        assert [dags.get_dag(conn, i).is_active for i in ("a", "b")] == [False, False]
        assert dags.get_dag(conn, "b").next_dagrun_create_after == NEXT


@ON_POSTGRES
def test_a_row_that_left_the_file_while_the_batch_waited_for_its_lock_is_not_the_files(
    engine: Engine,
) -> None:
    """The batch decides on what it read after its lock: ``a``, moved to another file by a
    transaction the batch waited for, is not reported as the batch's file's (it would be freed)."""
    _stored_pair(engine)
    found: list[dict[str, tuple[str, bool, str]]] = []

    def processor(conn: Connection) -> None:
        found.append(existing_dags(conn, [FILE], []))

    errors: list[BaseException] = []

    def run_processor() -> None:
        try:
            with begin_write(engine) as conn:
                processor(conn)
        except BaseException as exc:
            errors.append(exc)

    with engine.connect() as other:
        holder = int(other.execute(text("SELECT pg_backend_pid()")).scalar_one())
        other.commit()
        thread = threading.Thread(target=run_processor)
        with other.begin():
            other.execute(select(dag_t.c.dag_id).where(dag_t.c.dag_id == "a").with_for_update())
            thread.start()
            _wait_for_a_lock_wait(engine, holder)
            other.execute(update(dag_t).where(dag_t.c.dag_id == "a").values(fileloc="/dags/other.py"))
        thread.join(timeout=60)
    assert not thread.is_alive()
    assert errors == []
    assert sorted(found[0]) == ["b"]
