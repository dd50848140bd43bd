"""A failure a worker records while no scheduler runs is journaled; a restarted scheduler adds the rest."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pendulum
from sqlalchemy import Engine

from windvane.core.authoring.serialize import serialize_dag
from windvane.core.scheduler.config import SchedulerConfig
from windvane.core.scheduler.loop import Scheduler
from windvane.core.store import journal
from windvane.core.store.dags import upsert_dag
from windvane.core.store.engine import begin_read, begin_write
from windvane.core.store.journal_sql import JournalKind
from windvane.core.store.run_actions import trigger_dag
from windvane.core.worker.dag_loader import DagLoader
from windvane.core.worker.runner import log_path_for, run_workload
from windvane.testing import HoldingExecutor, InstantExecutor, run_states

DAG_FILE = """
import pendulum
from windvane import DAG, PythonOperator

def boom():
    raise ValueError("kaboom: the source table is missing")

with DAG("nightly", schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC")) as dag:
    extract = PythonOperator(task_id="extract", python_callable=boom)
    extract >> PythonOperator(task_id="load", python_callable=boom)
"""


def test_a_failure_recorded_with_no_scheduler_alive_is_in_the_journal_after_restart(
    engine: Engine, tmp_path: Path
) -> None:
    path = tmp_path / "nightly.py"
    path.write_text(textwrap.dedent(DAG_FILE))
    ser = serialize_dag(DagLoader().get_dag(str(path), "nightly"))
    now = pendulum.now("UTC")
    with begin_write(engine) as conn:
        upsert_dag(conn, dag_id="nightly", fileloc=str(path), dag_hash=ser.dag_hash, serialized=ser.to_json(),
                   last_parsed_at=now)  # fmt: skip
        _, run_id = trigger_dag(conn, ser, now=now)
        consumer_cursor = journal.register_consumer(conn, "alerts")

    # A scheduler queues "extract" for its executor, then stops before the try runs.
    handover = HoldingExecutor()
    first = Scheduler(engine=engine, executor=handover, config=SchedulerConfig(poll_interval_seconds=0.0))
    first.start()
    first.run_once()
    first.shutdown()
    [workload] = handover.workloads
    assert workload.task_id == "extract"

    # No scheduler is alive: the worker runs the try and records the failure.
    event = run_workload(workload, engine=engine, loader=DagLoader(), log_folder=str(tmp_path), hostname="w1")
    assert event.state == "failed"
    with begin_read(engine) as conn:
        [failure] = journal.read_after(conn, consumer_cursor, 100)
    assert (failure.kind, failure.key, failure.state) == (JournalKind.TRY_FINISHED, workload.key, "failed")
    assert (failure.try_number, failure.max_tries, failure.hostname) == (1, 0, "w1")
    assert "kaboom: the source table is missing" in (failure.error or "")
    assert log_path_for(str(tmp_path), workload).endswith("task_id=extract/attempt=1.log")

    # A new scheduler finishes the run; the journal now tells the whole story, in order.
    second = Scheduler(
        engine=engine,
        executor=InstantExecutor(4, engine=engine),
        config=SchedulerConfig(poll_interval_seconds=0.0),
    )
    second.start()
    for _ in range(20):
        if run_states(engine, "nightly")[run_id] == "failed":
            break
        second.run_once()
    second.shutdown()
    with begin_read(engine) as conn:
        found = journal.read_after(conn, consumer_cursor, 100)
    assert [(e.kind, e.key.task_id if e.key else None, e.state) for e in found] == [
        (JournalKind.TRY_FINISHED, "extract", "failed"),
        (JournalKind.TRY_FINISHED, "load", "upstream_failed"),
        (JournalKind.RUN_FINISHED, None, "failed"),
    ]
    assert found[0] == failure and found[-1].run_id == run_id
