"""LocalExecutor workers are lean: fresh interpreters without SQLAlchemy, the scheduler or the CLI."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import Engine

from windvane.core.executors.local import LocalExecutor
from windvane.testing import collect_events, queued_try, write_dag_file, xcom_text

DAG_SOURCE = """
import os, sys
from datetime import datetime, timezone
from windvane.core.authoring.dag import DAG
from windvane.core.authoring.operators.python import PythonOperator

HEAVY = ("sqlalchemy", "alembic", "rich", "windvane.core.scheduler", "windvane.cli",
         "windvane.core.store.engine", "windvane.core.processor")

def report():
    with open(f"/proc/{os.getppid()}/cmdline", "rb") as handle:
        worker = handle.read().replace(b"\\0", b" ").decode()
    return {"loaded": [m for m in HEAVY if m in sys.modules], "worker": worker}

with DAG("lean", schedule=None, start_date=datetime(2024, 1, 1, tzinfo=timezone.utc)) as dag:
    PythonOperator(task_id="report", python_callable=report)
"""


def test_tasks_run_in_a_worker_that_never_imported_sqlalchemy(engine: Engine, tmp_path: Path) -> None:
    """This process has SQLAlchemy loaded; the worker (and so the task's process) must not."""
    dag_file = write_dag_file(tmp_path, DAG_SOURCE)
    url = engine.url.render_as_string(hide_password=False)
    executor = LocalExecutor(1, db_url=url, log_folder=str(tmp_path / "logs"))
    executor.start()
    try:
        wl = queued_try(engine, dag_file, "lean", "report")
        executor.queue(wl)
        final, _ = collect_events(executor, 1)
        assert final[0].state == "success", final[0].error
        assert executor.db_commits == 2  # claim and finish
        assert executor.db_statements == 4  # the claim; the finish, its XCom and its journal row
    finally:
        executor.end()
    stored = xcom_text(engine, wl.dag_run_id, "report")
    assert stored is not None
    report = json.loads(stored)
    assert report["loaded"] == []
    assert "windvane.core.executors.local_worker" in report["worker"]  # a fresh interpreter, not a fork
