"""Issue 12, defect 3: a storm of terminated database connections (every 0.3 s for 10 s) stops no
process — the scheduler, its LocalExecutor workers (claims, heartbeats, final writes) and a DAG
processor storing new files meanwhile — and runs no try twice (PostgreSQL: ``pg_terminate_backend``
of this test's own database's backends only)."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from pathlib import Path

import pendulum
import pytest
from sqlalchemy import Engine, select, text

from tests.forking.helpers import wait_until
from windvane.core.authoring.serialize import serialize_dag
from windvane.core.store.dags import upsert_dag
from windvane.core.store.engine import begin_read, begin_write
from windvane.core.store.run_actions import trigger_dag
from windvane.core.store.tables import dag, dag_run, task_instance
from windvane.core.worker.dag_loader import DagLoader

DAG_FILE = """
import time, pendulum
from windvane import DAG, PythonOperator

LEDGER = {ledger!r}

def work(ti):
    with open(LEDGER, "a") as fh:
        fh.write(f"{{ti.run_id}} {{ti.task_id}} {{ti.try_number}}\\n")
    time.sleep(0.2)

with DAG("stormy", start_date=pendulum.datetime(2024, 1, 1, tz="UTC"), max_active_runs=2) as dag:
    first = PythonOperator(task_id="first", python_callable=work)
    last = PythonOperator(task_id="last", python_callable=work)
    for i in range(8):
        first >> PythonOperator(task_id=f"mid{{i}}", python_callable=work) >> last
"""
NEW_DAG = """
import pendulum
from windvane import DAG, EmptyOperator

with DAG({dag_id!r}, schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC")) as dag:
    EmptyOperator(task_id="only")
"""
TERMINATE = text(
    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
)
STORM_SECONDS = 10.0
EVERY = 0.3


def _dag_ids(engine: Engine) -> set[str]:
    with begin_read(engine) as conn:
        return set(conn.execute(select(dag.c.dag_id)).scalars().all())


def _finished(engine: Engine) -> int:
    with begin_read(engine) as conn:
        rows = conn.execute(select(task_instance.c.state)).scalars().all()
    return sum(1 for s in rows if s in ("success", "failed", "upstream_failed", "skipped"))


def _runs_ended(engine: Engine) -> bool:
    with begin_read(engine) as conn:
        states = set(conn.execute(select(dag_run.c.state)).scalars().all())
    return bool(states) and not states & {"queued", "running"}


@pytest.mark.parametrize("db_backend", ["postgres"], indirect=True)
def test_terminated_connections_stop_nothing_and_run_nothing_twice(engine: Engine, tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.txt"
    ledger.touch()
    dag_path = tmp_path / "stormy.py"
    dag_path.write_text(textwrap.dedent(DAG_FILE.format(ledger=str(ledger))))
    ser = serialize_dag(DagLoader().get_dag(str(dag_path), "stormy"))
    now = pendulum.now("UTC")
    with begin_write(engine) as conn:
        upsert_dag(
            conn,
            dag_id="stormy",
            fileloc=str(dag_path),
            dag_hash=ser.dag_hash,
            serialized=ser.to_json(),
            last_parsed_at=now,
        )
        for i in range(2):
            trigger_dag(conn, ser, now=now, logical_date=now.subtract(hours=i))
    total = 2 * 10
    url = engine.url.render_as_string(hide_password=False)
    script = Path(__file__).parents[1] / "runtime" / "scheduler_process.py"
    proc = subprocess.Popen([sys.executable, str(script), url, str(tmp_path / "logs")])
    folder = tmp_path / "dags"
    folder.mkdir()
    processor_script = Path(__file__).parents[1] / "runtime" / "processor_process.py"
    processor = subprocess.Popen([sys.executable, str(processor_script), url, str(folder)])
    terminated = storms = 0
    try:
        assert wait_until(lambda: _finished(engine) >= 1, timeout=60), "the run never started"
        stop = time.monotonic() + STORM_SECONDS
        while time.monotonic() < stop and proc.poll() is None and processor.poll() is None:
            with engine.connect() as conn:
                terminated += conn.execute(TERMINATE).scalar_one()
            engine.dispose()  # our own pooled connections were terminated too
            storms += 1
            if storms % 3 == 0:  # something new for the processor to store in the storm
                (folder / f"new{storms}.py").write_text(NEW_DAG.format(dag_id=f"new{storms}"))
            time.sleep(EVERY)  # the storm's rhythm, not a synchronisation
        assert proc.poll() is None, f"the scheduler exited with {proc.returncode} during the storm"
        assert processor.poll() is None, f"the DAG processor exited with {processor.returncode} in the storm"
        new = {p.stem for p in folder.glob("*.py")}
        assert wait_until(lambda: new <= _dag_ids(engine), timeout=60), new - _dag_ids(engine)
        assert wait_until(lambda: _finished(engine) >= total, timeout=120), (
            f"{_finished(engine)} of {total} finished"
        )
        # The runs end a pass (or, after a ride-out, a backoff) after their last try: wait for that
        # before stopping the scheduler, or a loaded machine stops it in between.
        assert wait_until(lambda: _runs_ended(engine), timeout=60), "the runs never ended"
        assert proc.poll() is None, "the scheduler exited after the storm"
        assert processor.poll() is None, "the DAG processor exited after the storm"
    finally:
        for process in (proc, processor):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        processor.wait(timeout=60)
    with begin_read(engine) as conn:
        states = Counter(conn.execute(select(task_instance.c.state)).scalars().all())
        runs = set(conn.execute(select(dag_run.c.state)).scalars().all())
    executions = Counter(" ".join(line.split()[:2]) for line in ledger.read_text().splitlines())
    print(
        f"storm: {storms} rounds, {terminated} backends terminated, executions {sum(executions.values())}, "
        f"scheduler exit {proc.returncode}, processor exit {processor.returncode}"
    )
    assert terminated > 0
    assert states == {"success": total}
    assert runs == {"success"}
    assert len(executions) == total
    assert max(executions.values()) == 1, [k for k, v in executions.items() if v > 1]
