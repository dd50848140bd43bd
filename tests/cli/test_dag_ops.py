"""``dags delete``, ``dags next-execution`` and ``dags report``."""

from __future__ import annotations

import itertools
import json
from datetime import datetime, timedelta
from pathlib import Path

import pendulum
from sqlalchemy import func, insert, select

from windvane.core.store.engine import begin_read, begin_write, create_db_engine
from windvane.core.store.tables import dag_run, state_journal, task_instance, xcom

from .conftest import RunCli


def _count(home: Path, table: object, dag_id: str) -> int:
    engine = create_db_engine(f"sqlite:///{home / 'windvane.db'}")
    try:
        with begin_read(engine) as conn:
            return int(
                conn.execute(
                    select(func.count()).select_from(table).where(table.c.dag_id == dag_id)  # type: ignore[attr-defined]
                ).scalar_one()
            )
    finally:
        engine.dispose()


def _add_history(home: Path, dag_id: str) -> None:
    """A run with a task instance, an XCom and a journal row, as a finished run leaves them."""
    now = pendulum.now("UTC")
    engine = create_db_engine(f"sqlite:///{home / 'windvane.db'}")
    try:
        with begin_write(engine) as conn:
            pk = conn.execute(
                insert(dag_run).values(
                    dag_id=dag_id, run_id="r1", run_type="manual", logical_date=now, state="success"
                )
            ).inserted_primary_key[0]
            conn.execute(insert(task_instance).values(dag_run_id=pk, dag_id=dag_id, run_id="r1", task_id="a"))
            conn.execute(
                insert(xcom).values(
                    dag_run_id=pk, task_id="a", key="k", dag_id=dag_id, run_id="r1", value="1", timestamp=now
                )
            )
            conn.execute(
                insert(state_journal).values(
                    recorded_at=now, kind="run", dag_id=dag_id, run_id="r1", dag_run_id=pk, state="success"
                )
            )
    finally:
        engine.dispose()


def test_delete_removes_every_row_of_the_dag_and_the_file_brings_it_back(ready: RunCli, home: Path) -> None:
    _add_history(home, "chain")
    _add_history(home, "failing")
    refused = ready("dags", "delete", "chain")  # stdin is no terminal here
    assert refused.code == 2 and "pass --yes" in refused.err
    assert _count(home, dag_run, "chain") == 1

    done = ready("dags", "delete", "chain", "--yes")
    assert done.code == 0, done.err
    assert "Deleted DAG chain" in done.out and "dag_run 1" in done.out and "xcom 1" in done.out
    assert "still in the DAGs folder" in done.err and "register the DAG again" in done.err
    for table in (dag_run, task_instance, xcom, state_journal):
        assert _count(home, table, "chain") == 0
        assert _count(home, table, "failing") == 1  # other DAGs keep their history
    assert "chain" not in ready("dags", "list", "-o", "plain").out
    assert ready("dags", "list-runs", "chain").code == 1

    assert ready("dag-processor", "-n", "1").code == 0  # the unchanged file is parsed again
    assert "chain" in ready("dags", "list", "-o", "plain").out
    assert ready("dags", "list-runs", "chain").err.strip() == "DAG chain has no runs."


def test_delete_without_the_file_says_nothing_about_coming_back(
    ready: RunCli, home: Path, dags_folder: Path
) -> None:
    (dags_folder / "failing.py").unlink()
    done = ready("dags", "delete", "failing", "-y")
    assert done.code == 0 and "still in the DAGs folder" not in done.err


def test_delete_of_an_unknown_dag_names_it(ready: RunCli) -> None:
    result = ready("dags", "delete", "nope", "--yes")
    assert result.code == 1 and "'nope'" in result.err


def test_next_execution_steps_through_the_schedule(ready: RunCli) -> None:
    one = ready("dags", "next-execution", "chain")
    assert one.code == 0 and len(one.out.split()) == 1
    three = ready("dags", "next-execution", "chain", "-n", "3")
    dates = [datetime.fromisoformat(line) for line in three.out.split()]
    assert len(dates) == 3 and three.out.split()[0] == one.out.strip()
    assert [b - a for a, b in itertools.pairwise(dates)] == [timedelta(days=1)] * 2
    assert "is paused" not in three.err
    assert ready("dags", "pause", "chain").code == 0
    assert "DAG chain is paused" in ready("dags", "next-execution", "chain").err


def test_next_execution_of_an_unknown_dag_fails(ready: RunCli) -> None:
    assert ready("dags", "next-execution", "nope").code == 1


def test_report_lists_each_files_parse_with_dag_and_task_counts(ready: RunCli) -> None:
    result = ready("dags", "report", "-o", "json")
    assert result.code == 0, result.err
    rows = {Path(r["file"]).name: r for r in json.loads(result.out)}
    assert set(rows) == {"chain.py", "failing.py"}
    assert rows["chain.py"]["dag_ids"] == ["chain"] and rows["chain.py"]["tasks"] == 3
    assert rows["failing.py"]["dags"] == 1 and rows["failing.py"]["import_error"] is False
    assert all(r["duration_seconds"] >= 0 for r in rows.values())
    table = ready("dags", "report")
    assert "chain.py" in table.out and "2 file(s), 2 DAG(s)" in table.err


def test_report_before_any_parse_says_what_to_run(run_cli: RunCli) -> None:
    assert run_cli("db", "migrate").code == 0
    result = run_cli("dags", "report")
    assert result.code == 0 and "dag-processor -n 1" in result.err
