"""A PostgreSQL deadlock between two writers is ridden out, never fatal (issue 15 hardening, defect 2).

Two transactions that lock the same rows in opposite orders — the DAG processor storing DAGs ``a``
then ``b`` while a scheduler transaction writes ``b`` then ``a`` — deadlock; PostgreSQL aborts one
(``deadlock detected``) after ``deadlock_timeout``. The victim must see a *transient* error, so the
scheduler's and the processor's outage guards, and a worker's claim and final write, run its
transaction again instead of exiting. On the raw DBAPI paths (a :class:`~windvane.core.store.raw.RawDb`,
and the scheduler's pass writes through :func:`~windvane.core.store.sql_bridge.dbapi_tx`) the
error is psycopg's ``DeadlockDetected``, which :func:`is_transient` did not know (only
SQLAlchemy's wrapper, an ``OperationalError``); the interleaving is made deterministic with a
barrier.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import pendulum
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

from windvane.core.authoring.dag import DAG
from windvane.core.authoring.operators.empty import EmptyOperator
from windvane.core.store.outage import OutageGuard, is_transient
from windvane.core.store.raw import RawDb
from windvane.core.store.raw_sql import Sql, Tx
from windvane.testing import register_dag

NOW = pendulum.datetime(2024, 3, 10, 12, tz="UTC")
TOUCH = Sql("UPDATE dag SET is_paused = is_paused WHERE dag_id = :dag_id")

ON_POSTGRES = pytest.mark.parametrize("db_backend", ["postgres"], indirect=True)


def _dags(engine: Engine) -> None:
    for dag_id in ("a", "b"):
        with DAG(dag_id, schedule=None, start_date=pendulum.datetime(2024, 1, 1)) as dag:
            EmptyOperator(task_id="t")
        register_dag(engine, dag, now=NOW)


def _crossing(engine: Engine, second: Callable[[threading.Barrier], None]) -> list[BaseException]:
    """Lock ``a`` then ``b`` on a raw connection (as the processor's batch) while ``second`` locks
    ``b`` then ``a``, each taking its first lock before either takes its second (the barrier).
    Returns the errors raised (PostgreSQL aborts one of the two)."""
    barrier = threading.Barrier(2, timeout=30)
    errors: list[BaseException] = []
    db = RawDb(engine.url.render_as_string(hide_password=False))

    def processor(tx: Tx) -> None:
        tx.execute(TOUCH, {"dag_id": "a"})
        barrier.wait()
        tx.execute(TOUCH, {"dag_id": "b"})

    def run(body: Callable[[], object]) -> None:
        try:
            body()
        except BaseException as exc:
            errors.append(exc)

    threads = [
        threading.Thread(target=run, args=(lambda: db.write(processor),)),
        threading.Thread(target=run, args=(lambda: second(barrier),)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    db.close()
    return errors


def _scheduler_side(engine: Engine) -> Callable[[threading.Barrier], None]:
    """A scheduler-side transaction through SQLAlchemy: ``b``, the barrier, then ``a``."""

    def body(barrier: threading.Barrier) -> None:
        with engine.begin() as conn:
            conn.execute(text(TOUCH.text), {"dag_id": "b"})
            barrier.wait()
            conn.execute(text(TOUCH.text), {"dag_id": "a"})

    return body


@ON_POSTGRES
def test_a_deadlock_aborts_one_writer_with_an_error_the_outage_guards_retry(engine: Engine) -> None:
    _dags(engine)
    errors = _crossing(engine, _scheduler_side(engine))
    assert len(errors) == 1, errors  # PostgreSQL broke the cycle by aborting one of the two
    [victim] = errors
    assert "deadlock detected" in str(victim)
    assert is_transient(victim), f"{type(victim).__module__}.{type(victim).__name__} is not transient"
    # Either side may be the victim: the raw path raises psycopg's own class, SQLAlchemy its wrapper.
    assert isinstance(victim, OperationalError) or type(victim).__name__ == "DeadlockDetected"


def test_psycopgs_deadlock_and_serialization_errors_are_transient_on_the_raw_path() -> None:
    import psycopg.errors

    for error in (
        psycopg.errors.DeadlockDetected("deadlock detected"),
        psycopg.errors.SerializationFailure("could not serialize access due to concurrent update"),
        psycopg.errors.LockNotAvailable("canceling statement due to lock timeout"),
    ):
        assert is_transient(error), type(error).__name__
    assert not is_transient(psycopg.errors.UniqueViolation("duplicate key value"))


@ON_POSTGRES
def test_the_victims_transaction_succeeds_when_run_again(engine: Engine) -> None:
    _dags(engine)
    guard = OutageGuard("test", max_outage_seconds=60)
    attempts = 0

    def once(barrier: threading.Barrier) -> None:
        nonlocal attempts
        attempts += 1
        _scheduler_side(engine)(barrier)

    errors = _crossing(engine, once)
    for error in errors:  # the victim retries as the scheduler's loop does: after the guard's pause
        assert is_transient(error)
        guard.failed(error)
        with engine.begin() as conn:
            for dag_id in ("b", "a"):
                conn.execute(text(TOUCH.text), {"dag_id": dag_id})
        assert guard.succeeded() is not None
    assert attempts == 1
