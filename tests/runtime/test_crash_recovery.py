"""kill -9 the scheduler at arbitrary moments: every run still completes, no try is lost or run twice."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from pathlib import Path

import pendulum
import pytest
from sqlalchemy import Engine, select

from windvane.core.authoring.serialize import serialize_dag
from windvane.core.store.dags import upsert_dag
from windvane.core.store.engine import begin_read, begin_write
from windvane.core.store.run_actions import trigger_dag
from windvane.core.store.tables import dag_run, task_instance
from windvane.core.worker.dag_loader import DagLoader

pytestmark = pytest.mark.slow

DAG_FILE = """
import os, time, pendulum
from windvane import DAG, PythonOperator

LEDGER = {ledger!r}

def work(ti):
    # Record every execution: the test counts them.
    with open(LEDGER, "a") as fh:
        fh.write(f"{{ti.run_id}} {{ti.task_id}}\\n")
    time.sleep(0.03)

with DAG("crashy", start_date=pendulum.datetime(2024, 1, 1, tz="UTC"), max_active_runs=3) as dag:
    first = PythonOperator(task_id="first", python_callable=work)
    last = PythonOperator(task_id="last", python_callable=work)
    for i in range(12):
        first >> PythonOperator(task_id=f"mid{{i:02d}}", python_callable=work) >> last
"""


def wait_for(predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def finished_tis(engine: Engine) -> int:
    with begin_read(engine) as conn:
        rows = conn.execute(select(task_instance.c.state)).scalars().all()
    return sum(1 for s in rows if s in ("success", "failed", "upstream_failed", "skipped"))


def test_kill_minus_nine_at_random_moments_loses_and_repeats_nothing(engine: Engine, tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.txt"
    ledger.touch()
    dag_path = tmp_path / "crashy.py"
    dag_path.write_text(textwrap.dedent(DAG_FILE.format(ledger=str(ledger))))
    ser = serialize_dag(DagLoader().get_dag(str(dag_path), "crashy"))
    now = pendulum.now("UTC")
    with begin_write(engine) as conn:
        upsert_dag(
            conn,
            dag_id="crashy",
            fileloc=str(dag_path),
            dag_hash=ser.dag_hash,
            serialized=ser.to_json(),
            last_parsed_at=now,
        )
        for i in range(3):
            trigger_dag(conn, ser, now=now, logical_date=now.subtract(hours=i))
    total = 3 * 14
    url = engine.url.render_as_string(hide_password=False)
    script = Path(__file__).with_name("scheduler_process.py")
    rng = random.Random(1234)
    kills = 0
    for _ in range(4):
        proc = subprocess.Popen([sys.executable, str(script), url, str(tmp_path / "logs")])
        try:
            if finished_tis(engine) < total:
                target = min(total, finished_tis(engine) + rng.randint(3, 9))
                wait_for(lambda t=target: finished_tis(engine) >= t, 60, f"{target} finished task instances")
                time.sleep(rng.uniform(0.0, 0.05))  # land the kill at an arbitrary point of the loop
        finally:
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
                kills += 1
            proc.wait(timeout=30)
        if finished_tis(engine) >= total:
            break
    # A last, undisturbed scheduler finishes whatever is left.
    proc = subprocess.Popen([sys.executable, str(script), url, str(tmp_path / "logs")])
    try:
        wait_for(lambda: finished_tis(engine) >= total, 120, "every task instance to finish")
        with begin_read(engine) as conn:
            wait_for(lambda: _run_states(engine) == {"success"}, 30, "every run to succeed")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    assert kills >= 2
    with begin_read(engine) as conn:
        states = Counter(conn.execute(select(task_instance.c.state)).scalars().all())
        tries = conn.execute(select(task_instance.c.try_number)).scalars().all()
    assert states == {"success": total}
    assert set(tries) == {1}
    executions = Counter(ledger.read_text().splitlines())
    assert len(executions) == total, "a task instance never ran"
    assert max(executions.values()) == 1, [k for k, v in executions.items() if v > 1]


def _run_states(engine: Engine) -> set[str]:
    with begin_read(engine) as conn:
        return set(conn.execute(select(dag_run.c.state)).scalars().all())
