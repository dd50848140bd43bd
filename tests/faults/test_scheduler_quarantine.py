"""Defect 1 (scheduler side): a DAG the database refuses is quarantined; the scheduler goes on.

Before the fix, a stored DAG whose task row could not be written (``integer out of range`` on
PostgreSQL, an int over 2**63 on SQLite) made every pass raise, so the scheduler exited on every
restart and no DAG ran. The DAG here is stored as an older Windvane (without the definition-time
ranges) would have stored it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pendulum
from sqlalchemy import Engine

from tests.faults.conftest import RunCliLike
from windvane.core.authoring.dag import DAG
from windvane.core.authoring.operators.empty import EmptyOperator
from windvane.core.model.clock import FakeClock
from windvane.core.model.states import DagRunState
from windvane.core.scheduler.config import SchedulerConfig
from windvane.core.scheduler.loop import Scheduler
from windvane.core.scheduler.observer import SchedulerObserver
from windvane.core.scheduler.quarantine import DagQuarantined
from windvane.core.store.engine import begin_read
from windvane.core.store.import_errors import list_import_errors
from windvane.testing import InstantExecutor, register_dag, run_states

NOW = pendulum.datetime(2024, 3, 10, 12, 0, tz="UTC")
START = pendulum.datetime(2024, 3, 1, tz="UTC")


class Noop(EmptyOperator):
    is_noop = False


class Heard(SchedulerObserver):
    def __init__(self) -> None:
        self.quarantined: list[DagQuarantined] = []

    def dag_quarantined(self, event: DagQuarantined) -> None:
        self.quarantined.append(event)


def _dag(dag_id: str, weight: int | None = None) -> DAG:
    with DAG(dag_id, schedule="@daily", start_date=START, catchup=False) as dag:
        task = Noop(task_id="t", weight_rule="absolute")
    if weight is not None:  # what validation now refuses, as a DAG stored before it would hold it
        task.priority_weight = weight
    dag.fileloc = f"/dags/{dag_id}.py"
    return dag


def test_a_dag_the_database_refuses_is_quarantined_and_others_run(engine: Engine, db_backend: str) -> None:
    # PostgreSQL's int4 column refuses 2**31 ("integer out of range"); SQLite's integers hold 64 bits.
    weight = 2**31 if db_backend == "postgres" else 2**63
    register_dag(engine, _dag("poison", weight=weight), now=NOW)
    register_dag(engine, _dag("good"), now=NOW)
    heard = Heard()
    clock = FakeClock(NOW)
    s = Scheduler(
        engine=engine,
        executor=InstantExecutor(8, engine=engine),
        clock=clock,
        observer=heard,
        config=SchedulerConfig(poll_interval_seconds=0.0),
    )
    s.start()
    for _ in range(10):
        s.run_once()
    assert run_states(engine, "good") == {"scheduled__2024-03-09T00:00:00+00:00": DagRunState.SUCCESS.value}
    assert run_states(engine, "poison") == {}
    assert [e.dag_id for e in heard.quarantined] == ["poison"]
    with begin_read(engine) as conn:
        errors = {e.filename: e.stacktrace for e in list_import_errors(conn)}
    assert set(errors) == {"/dags/poison.py"}
    assert "DAG 'poison' is quarantined" in errors["/dags/poison.py"]
    assert "creating its next run failed" in errors["/dags/poison.py"]
    if db_backend == "postgres":
        assert "integer out of range" in errors["/dags/poison.py"]

    # A fixed DAG (a new dag_hash) leaves the quarantine and is scheduled.
    register_dag(engine, _dag("poison"), now=NOW)
    for _ in range(10):
        s.run_once()
    assert run_states(engine, "poison") == {"scheduled__2024-03-09T00:00:00+00:00": DagRunState.SUCCESS.value}
    s.shutdown()


def test_dags_list_shows_which_dags_are_quarantined() -> None:
    from windvane.core.model.quarantine_note import QUARANTINE_MARK, quarantined_dag_ids

    texts = [f"DAG 'a.b' {QUARANTINE_MARK} since 2024: creating its next run failed", "DAG 'c' is invalid"]
    assert quarantined_dag_ids(texts) == {"a.b"}


def test_a_queued_run_the_database_refuses_quarantines_its_dag_and_stays_queued(
    engine: Engine, db_backend: str
) -> None:
    """The DAG changed between the trigger and the start: its new task's row is refused."""
    from windvane.core.store.engine import begin_write
    from windvane.core.store.run_actions import trigger_dag

    def manual(dag_id: str, extra_weight: int | None = None) -> DAG:
        with DAG(dag_id, schedule=None, start_date=START) as dag:
            first = Noop(task_id="first")
            if extra_weight is not None:
                added = Noop(task_id="added", weight_rule="absolute")
                added.priority_weight = extra_weight
                first >> added
        dag.fileloc = f"/dags/{dag_id}.py"
        return dag

    runs = {}
    for dag_id in ("changed", "steady"):
        ser = register_dag(engine, manual(dag_id), now=NOW)
        with begin_write(engine) as conn:
            runs[dag_id] = trigger_dag(conn, ser, now=NOW, run_id="r1")
    register_dag(engine, manual("changed", 2**31 if db_backend == "postgres" else 2**63), now=NOW)
    heard = Heard()
    s = Scheduler(
        engine=engine,
        executor=InstantExecutor(8, engine=engine),
        clock=FakeClock(NOW),
        observer=heard,
        config=SchedulerConfig(poll_interval_seconds=0.0),
    )
    s.start()
    for _ in range(10):
        s.run_once()
    assert run_states(engine, "steady") == {"r1": DagRunState.SUCCESS.value}
    assert run_states(engine, "changed") == {"r1": DagRunState.QUEUED.value}
    assert [(e.dag_id, e.step) for e in heard.quarantined] == [("changed", "starting its run r1")]

    register_dag(engine, manual("changed", 5), now=NOW)  # fixed: it leaves the quarantine
    for _ in range(10):
        s.run_once()
    assert run_states(engine, "changed") == {"r1": DagRunState.SUCCESS.value}
    s.shutdown()


def test_dags_list_has_a_quarantined_column_when_a_dag_is_quarantined(ready: RunCliLike, home: Path) -> None:
    from windvane.core.model.quarantine_note import QUARANTINE_MARK
    from windvane.core.store.engine import begin_write, create_db_engine
    from windvane.core.store.import_errors import replace_import_error

    assert "quarantined" not in ready("dags", "list").out
    engine = create_db_engine(f"sqlite:///{home / 'windvane.db'}")
    with begin_write(engine) as conn:
        note = f"DAG 'chain' {QUARANTINE_MARK} since 2024-03-10: creating its next run failed"
        replace_import_error(conn, "/dags/chain.py", note, NOW)
    engine.dispose()
    listed = ready("dags", "list", "-o", "json")
    flags = {d["dag_id"]: d["quarantined"] for d in json.loads(listed.out)}
    assert flags == {"chain": True, "failing": False}
    assert "quarantined" in ready("dags", "list").out


def test_a_running_run_whose_reload_fails_quarantines_its_dag_and_others_go_on(
    engine: Engine, db_backend: str
) -> None:
    """The DAG of a running run changes to something the database refuses: re-loading the run (in a
    pass, and at a restart) quarantines that DAG only; once fixed, its run goes on."""
    from windvane.core.store.engine import begin_write
    from windvane.core.store.run_actions import trigger_dag
    from windvane.testing.scripted import HOLD, ScriptedExecutor, Step

    def manual(dag_id: str, extra_weight: int | None = None) -> DAG:
        with DAG(dag_id, schedule=None, start_date=START) as dag:
            first = Noop(task_id="first")
            if extra_weight is not None:
                added = Noop(task_id="added", weight_rule="absolute")
                added.priority_weight = extra_weight
                first >> added
        dag.fileloc = f"/dags/{dag_id}.py"
        return dag

    def scheduler(heard: Heard, *, hold: str = "") -> Scheduler:
        script = lambda w: Step(HOLD if w.dag_id == hold else "success")  # noqa: E731
        clock = FakeClock(NOW)
        executor = ScriptedExecutor(8, engine=engine, clock=clock, script=script)
        config = SchedulerConfig(poll_interval_seconds=0.0)
        return Scheduler(engine=engine, executor=executor, clock=clock, observer=heard, config=config)

    def trigger(dag: DAG, run_id: str) -> None:
        ser = register_dag(engine, dag, now=NOW)
        with begin_write(engine) as conn:
            trigger_dag(conn, ser, now=NOW, run_id=run_id)

    trigger(manual("changed"), "r1")
    trigger(manual("steady"), "r1")
    heard = Heard()
    s = scheduler(heard, hold="changed")  # its try stays queued: the run stays running
    s.start()
    for _ in range(3):
        s.run_once()
    assert run_states(engine, "changed") == {"r1": DagRunState.RUNNING.value}
    register_dag(engine, manual("changed", 2**31 if db_backend == "postgres" else 2**63), now=NOW)
    trigger(manual("steady", 3), "r2")
    for _ in range(3):
        s.run_once()
    assert [(e.dag_id, e.step) for e in heard.quarantined] == [("changed", "loading its running run r1")]
    assert run_states(engine, "steady") == {"r1": "success", "r2": "success"}
    s.shutdown()

    # A restart loads the running run from scratch: quarantined again, the others go on.
    heard = Heard()
    s = scheduler(heard)
    s.start()
    trigger(manual("steady", 4), "r3")
    for _ in range(3):
        s.run_once()
    assert [(e.dag_id, e.step) for e in heard.quarantined] == [("changed", "loading its running run r1")]
    assert run_states(engine, "steady")["r3"] == DagRunState.SUCCESS.value

    register_dag(engine, manual("changed", 5), now=NOW)  # fixed: it leaves the quarantine, its run goes on
    for _ in range(5):
        s.run_once()
    assert run_states(engine, "changed") == {"r1": DagRunState.SUCCESS.value}
    s.shutdown()
