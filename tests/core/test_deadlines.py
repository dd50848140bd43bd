"""Due times, SLA and run deadlines: the pure rules, authoring, and the columns set at creation."""

from __future__ import annotations

from datetime import timedelta

import pendulum
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Engine, select, update

from tests.runtime.test_scheduler import drive, make_scheduler
from windvane import DAG, BashOperator
from windvane.core.authoring.serialize import serialize_dag
from windvane.core.model.clock import FakeClock
from windvane.core.model.deadlines import after, run_due_at
from windvane.core.model.serialized_dag import SerializedDag
from windvane.core.store import dag_runs
from windvane.core.store.engine import begin_read, begin_write
from windvane.core.store.rows import DagRunRow
from windvane.core.store.run_actions import clear_task_instances, create_backfill, trigger_dag
from windvane.core.store.tables import dag_run, task_instance
from windvane.core.store.task_instances import ensure_task_instances
from windvane.errors import DagDefinitionError
from windvane.testing import InstantExecutor, register_dag

START = pendulum.datetime(2024, 1, 1, tz="UTC")
NOW = pendulum.datetime(2024, 3, 1, 12, tz="UTC")


def test_a_scheduled_run_is_due_at_its_interval_end_however_late_it_was_created() -> None:
    end = pendulum.datetime(2024, 1, 2, tz="UTC")
    assert run_due_at("scheduled", START, end, NOW) == end


def test_manual_and_backfill_runs_are_not_late_at_birth() -> None:
    end = pendulum.datetime(2024, 1, 2, tz="UTC")
    assert run_due_at("backfill", START, end, NOW) == NOW  # an old interval backfilled now
    assert run_due_at("manual", START, None, NOW) == NOW  # no interval: the logical date stands in
    later = NOW.add(days=1)
    assert run_due_at("manual", later, later, NOW) == later  # a future interval: its end


@given(
    created=st.datetimes(
        min_value=pendulum.datetime(2000, 1, 1).naive(), max_value=pendulum.datetime(2100, 1, 1).naive()
    ),
    end=st.datetimes(
        min_value=pendulum.datetime(2000, 1, 1).naive(), max_value=pendulum.datetime(2100, 1, 1).naive()
    ),
    run_type=st.sampled_from(["manual", "backfill"]),
)
def test_an_unscheduled_run_is_never_due_before_it_exists_nor_before_its_interval_ends(
    created: object, end: object, run_type: str
) -> None:
    c, e = pendulum.instance(created, tz="UTC"), pendulum.instance(end, tz="UTC")  # type: ignore[arg-type]
    due = run_due_at(run_type, e, e, c)
    assert due >= c and due >= e and due in (c, e)


def test_after_adds_seconds_in_utc_or_gives_none() -> None:
    local = pendulum.datetime(2024, 1, 1, 1, tz="Europe/Paris")
    assert after(local, 90.0) == pendulum.datetime(2024, 1, 1, 0, 1, 30, tz="UTC")
    assert after(local, 90.0).utcoffset() == timedelta(0)  # type: ignore[union-attr]
    assert after(local, None) is None


@pytest.mark.parametrize("bad", [timedelta(0), timedelta(seconds=-5), 3600, "1h"])
def test_a_deadline_must_be_a_positive_timedelta_and_the_error_names_the_dag(bad: object) -> None:
    with pytest.raises(DagDefinitionError, match="DAG 'late': deadline must be a positive timedelta"):
        DAG("late", deadline=bad)  # type: ignore[arg-type]


def test_an_sla_must_be_a_positive_timedelta_and_the_error_names_the_task() -> None:
    with DAG("late", schedule=None, start_date=START), pytest.raises(DagDefinitionError, match=r"'t'.*sla"):
        BashOperator(task_id="t", bash_command="true", sla=timedelta(0))


def sla_dag(dag_id: str = "sla", schedule: object = None) -> DAG:
    with DAG(dag_id, schedule=schedule, start_date=START, deadline=timedelta(hours=2), catchup=False) as dag:
        BashOperator(task_id="timed", bash_command="true", sla=timedelta(minutes=30))
        BashOperator(task_id="untimed", bash_command="true")
    return dag


def test_deadline_and_sla_are_serialized_in_seconds() -> None:
    ser = serialize_dag(sla_dag())
    again = SerializedDag.from_json(ser.to_json())
    assert (again.deadline, again.tasks["timed"].sla, again.tasks["untimed"].sla) == (7200.0, 1800.0, None)
    assert serialize_dag(DAG("plain", schedule=None, start_date=START)).deadline is None


def due_columns(engine: Engine, run_id: str) -> tuple[object, dict[str, object]]:
    with begin_read(engine) as conn:
        run = conn.execute(
            select(dag_run.c.id, dag_run.c.deadline_at).where(dag_run.c.run_id == run_id)
        ).one()
        tis = conn.execute(
            select(task_instance.c.task_id, task_instance.c.sla_due_at).where(
                task_instance.c.dag_run_id == run.id
            )
        )
        return dag_runs.utc(run.deadline_at), {t.task_id: dag_runs.utc(t.sla_due_at) for t in tis}


def test_a_manual_run_stores_its_deadline_and_each_timed_task_its_sla_due_time(engine: Engine) -> None:
    ser = register_dag(engine, sla_dag(), now=NOW)
    with begin_write(engine) as conn:
        _, run_id = trigger_dag(conn, ser, now=NOW)
    deadline, tis = due_columns(engine, run_id)
    assert deadline == NOW.add(hours=2)
    assert tis == {"timed": NOW.add(minutes=30), "untimed": None}


def test_a_backfill_of_old_intervals_is_due_from_when_it_was_created(engine: Engine) -> None:
    ser = register_dag(engine, sla_dag(schedule="@daily"), now=NOW)
    with begin_write(engine) as conn:
        plan = create_backfill(conn, ser, start=START, end=START.add(days=1), now=NOW)
        runs = [r.run_id for r in dag_runs.get_runs(conn, plan.created)]
    assert len(runs) == 2
    for run_id in runs:
        assert due_columns(engine, run_id) == (
            NOW.add(hours=2),
            {"timed": NOW.add(minutes=30), "untimed": None},
        )


def runs_of(engine: Engine, dag_id: str) -> list[DagRunRow]:
    with begin_read(engine) as conn:
        return dag_runs.list_dag_runs(conn, dag_id)


def test_a_scheduled_run_is_due_from_its_interval_end(engine: Engine) -> None:
    ser = register_dag(engine, sla_dag(schedule="@daily"), now=NOW)
    clock = FakeClock(NOW)
    scheduler = make_scheduler(engine, InstantExecutor(2, engine=engine, clock=clock), clock)
    drive(scheduler, lambda: bool(runs_of(engine, ser.dag_id)), limit=5)
    scheduler.shutdown()
    [run] = runs_of(engine, ser.dag_id)
    assert run.run_type == "scheduled" and run.data_interval_end is not None
    end = pendulum.instance(run.data_interval_end)
    assert due_columns(engine, run.run_id) == (
        end.add(hours=2),
        {"timed": end.add(minutes=30), "untimed": None},
    )


def test_a_task_added_to_an_existing_run_gets_its_sla_due_time_from_the_run(engine: Engine) -> None:
    with DAG("grow", schedule=None, start_date=START) as first:
        BashOperator(task_id="a", bash_command="true")
    ser = register_dag(engine, first, now=NOW)
    with begin_write(engine) as conn:
        pk, run_id = trigger_dag(conn, ser, now=NOW)
    with DAG("grow", schedule=None, start_date=START) as second:
        BashOperator(task_id="a", bash_command="true")
        BashOperator(task_id="b", bash_command="true", sla=timedelta(minutes=5))
    with begin_write(engine) as conn:
        ensure_task_instances(conn, pk, run_id, serialize_dag(second), NOW.add(hours=1))
    assert due_columns(engine, run_id)[1] == {"a": None, "b": NOW.add(minutes=5)}


def test_clearing_keeps_due_times_still_ahead_and_drops_those_already_passed(engine: Engine) -> None:
    ser = register_dag(engine, sla_dag(), now=NOW)
    with begin_write(engine) as conn:
        pk, run_id = trigger_dag(conn, ser, now=NOW)
        conn.execute(update(task_instance).where(task_instance.c.dag_run_id == pk).values(state="success"))
        clear_task_instances(conn, ser, pk, task_ids=["timed"], now=NOW.add(minutes=5))  # before its due time
    assert due_columns(engine, run_id) == (NOW.add(hours=2), {"timed": NOW.add(minutes=30), "untimed": None})
    with begin_write(engine) as conn:
        conn.execute(update(task_instance).where(task_instance.c.dag_run_id == pk).values(state="success"))
        clear_task_instances(conn, ser, pk, now=NOW.add(hours=3))  # a re-run after both: not late
    assert due_columns(engine, run_id) == (None, {"timed": None, "untimed": None})
