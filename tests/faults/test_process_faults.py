"""Issue 12 fault tests with real processes: kill -9 of a LocalExecutor worker mid-task, and
SIGTERM to the scheduler during a run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from pathlib import Path

import pendulum
from sqlalchemy import Engine, select

from tests.forking.helpers import gone
from windvane.core.authoring.serialize import serialize_dag
from windvane.core.store.dags import upsert_dag
from windvane.core.store.engine import begin_read, begin_write
from windvane.core.store.run_actions import trigger_dag
from windvane.core.store.tables import task_instance
from windvane.core.worker.dag_loader import DagLoader

DAG_FILE = """
import os, time, pendulum
from windvane import DAG, PythonOperator

LEDGER = {ledger!r}

def work(ti):
    with open(LEDGER, "a") as fh:
        fh.write(f"{{ti.task_id}} {{ti.try_number}} {{os.getppid()}}\\n")
    time.sleep({sleep})

with DAG("faulty", start_date=pendulum.datetime(2024, 1, 1, tz="UTC")) as dag:
    PythonOperator(task_id="victim", python_callable=work, retries=1, retry_delay=0)
"""


def _wait(predicate, timeout: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return bool(predicate())


def _start(engine: Engine, tmp_path: Path, sleep: float) -> tuple[subprocess.Popen[bytes], Path]:
    ledger = tmp_path / "ledger.txt"
    ledger.touch()
    dag_path = tmp_path / "faulty.py"
    dag_path.write_text(textwrap.dedent(DAG_FILE.format(ledger=str(ledger), sleep=sleep)))
    ser = serialize_dag(DagLoader().get_dag(str(dag_path), "faulty"))
    now = pendulum.now("UTC")
    with begin_write(engine) as conn:
        upsert_dag(
            conn,
            dag_id="faulty",
            fileloc=str(dag_path),
            dag_hash=ser.dag_hash,
            serialized=ser.to_json(),
            last_parsed_at=now,
        )
        trigger_dag(conn, ser, now=now, logical_date=now)
    url = engine.url.render_as_string(hide_password=False)
    script = Path(__file__).parents[1] / "runtime" / "scheduler_process.py"
    return subprocess.Popen([sys.executable, str(script), url, str(tmp_path / "logs")]), ledger


def _ti(engine: Engine) -> tuple[str | None, int]:
    with begin_read(engine) as conn:
        row = conn.execute(select(task_instance.c.state, task_instance.c.try_number)).one()
    return row[0], row[1]


def test_kill_minus_nine_of_a_worker_mid_task_retries_the_try_once(engine: Engine, tmp_path: Path) -> None:
    proc, ledger = _start(engine, tmp_path, sleep=1.5)
    started = time.monotonic()
    try:
        assert _wait(lambda: ledger.read_text().count("victim 1 ") == 1, 60), "try 1 never started"
        worker = int(ledger.read_text().split()[2])
        os.kill(worker, signal.SIGKILL)
        killed = time.monotonic()
        assert _wait(lambda: _ti(engine)[1] >= 2, 30), f"try 1 was not detected: {_ti(engine)}"
        detected = time.monotonic() - killed
        assert _wait(lambda: _ti(engine)[0] == "success", 60), _ti(engine)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    tries = Counter(line.split()[1] for line in ledger.read_text().splitlines())
    print(f"worker killed; try 1 failed after {detected:.2f} s; total {time.monotonic() - started:.1f} s")
    assert tries == {"1": 1, "2": 1}  # the killed try, and its one retry
    assert detected < 5  # scheduler_process.py: task_heartbeat_timeout_seconds=5


def test_sigterm_during_a_run_shuts_down_cleanly(engine: Engine, tmp_path: Path) -> None:
    proc, ledger = _start(engine, tmp_path, sleep=0.5)
    try:
        assert _wait(lambda: ledger.read_text().count("victim 1 ") == 1, 60), "try 1 never started"
        worker = int(ledger.read_text().split()[2])
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert code == 0
    assert _wait(lambda: gone(worker), 10), "the worker outlived the scheduler"
    state, _ = _ti(engine)
    assert state != "running", "a try was left running"  # it finished, or was handed back
