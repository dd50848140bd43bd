"""Issue 12, defect 5: a full disk under ``WINDVANE_HOME`` (the SQLite database and the logs on a
4 MiB tmpfs, filled to the last byte mid-run) stops no process; once space returns the run
completes by itself. Log writes that fail fail their try with a named cause (retried per
``retries``); database writes that fail are ridden out as transient errors."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
import textwrap
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pendulum
import pytest
from sqlalchemy import select

from tests.forking.helpers import wait_until
from windvane.core.authoring.serialize import serialize_dag
from windvane.core.store.dags import upsert_dag
from windvane.core.store.engine import begin_read, begin_write, create_db_engine
from windvane.core.store.migrate import migrate
from windvane.core.store.run_actions import trigger_dag
from windvane.core.store.tables import dag_run, state_journal, task_instance
from windvane.core.worker.dag_loader import DagLoader

pytestmark = pytest.mark.slow

DAG_FILE = """
import time, pendulum
from windvane import DAG, PythonOperator

LEDGER = {ledger!r}

def work(ti):
    with open(LEDGER, "a") as fh:
        fh.write(f"{{ti.task_id}} {{ti.try_number}}\\n")
    for i in range(20):
        print(f"{{ti.task_id}} line {{i}}: " + "x" * 200, flush=True)
        time.sleep(0.02)

with DAG("diskful", start_date=pendulum.datetime(2024, 1, 1, tz="UTC")) as dag:
    previous = None
    for i in range(12):
        task = PythonOperator(task_id=f"t{{i:02d}}", python_callable=work, retries=5, retry_delay=0)
        if previous is not None:
            previous >> task
        previous = task
"""


@contextlib.contextmanager
def _small_filesystem(where: Path, size: str = "4m") -> Iterator[Path]:
    where.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(where)], check=False
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs at {where} (needs root and mount permission)")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def _fill(path: Path) -> None:
    """Write zeros into ``path`` until the filesystem is full (unbuffered: every byte lands)."""
    with open(path, "wb", buffering=0) as fh:
        for size in (65536, 4096, 1):
            with contextlib.suppress(OSError):
                while True:
                    fh.write(b"\0" * size)


def test_a_full_disk_stops_nothing_and_work_resumes_when_space_returns(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.txt"
    ledger.touch()
    dag_path = tmp_path / "diskful.py"
    dag_path.write_text(textwrap.dedent(DAG_FILE.format(ledger=str(ledger))))
    with _small_filesystem(tmp_path / "home") as home:
        url = f"sqlite:///{home / 'windvane.db'}"
        engine = create_db_engine(url)
        migrate(engine)
        ser = serialize_dag(DagLoader().get_dag(str(dag_path), "diskful"))
        now = pendulum.now("UTC")
        with begin_write(engine) as conn:
            upsert_dag(
                conn,
                dag_id="diskful",
                fileloc=str(dag_path),
                dag_hash=ser.dag_hash,
                serialized=ser.to_json(),
                last_parsed_at=now,
            )
            trigger_dag(conn, ser, now=now, logical_date=now)
        script = Path(__file__).parents[1] / "runtime" / "scheduler_process.py"
        stderr = tmp_path / "scheduler.err"
        with open(stderr, "wb") as err:
            proc = subprocess.Popen([sys.executable, str(script), url, str(home / "logs")], stderr=err)
        filler = home / "filler"
        try:
            assert wait_until(lambda: len(ledger.read_text().splitlines()) >= 2, timeout=60), "no task ran"
            _fill(filler)
            # The disk is full: the scheduler meets it (a refused write or a try failing on its log).
            assert wait_until(
                lambda: "disk is full" in stderr.read_text() or "No space left" in stderr.read_text(),
                timeout=30,
            ), stderr.read_text()[-3000:]
            assert wait_until(lambda: proc.poll() is not None, timeout=3) is False, "the scheduler exited"
            filler.unlink()  # space returns
            assert wait_until(lambda: _run_state(engine) == "success", timeout=90), _states(engine)
            assert proc.poll() is None, f"the scheduler exited with {proc.returncode}"
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            engine.dispose()
        states = _states(engine)
        failed = _failed_tries(engine)
    executions = Counter(ledger.read_text().splitlines())
    print(f"disk full: {sum(executions.values())} executions of 12 tasks; {states}; failed tries {failed}")
    assert states == {"success": 12}
    assert max(executions.values()) == 1, executions  # a try that failed on its log was a new try
    for error in failed:  # each names the full disk
        assert "No space left on device" in error or "disk is full" in error, error


def _run_state(engine) -> str | None:  # type: ignore[no-untyped-def]
    with begin_read(engine) as conn:
        return conn.execute(select(dag_run.c.state)).scalar_one_or_none()


def _states(engine) -> dict[str, int]:  # type: ignore[no-untyped-def]
    with begin_read(engine) as conn:
        return dict(Counter(conn.execute(select(task_instance.c.state)).scalars().all()))


def _failed_tries(engine) -> list[str]:  # type: ignore[no-untyped-def]
    """The errors of the tries that did not succeed, from the state-change journal."""
    query = select(state_journal.c.error).where(
        state_journal.c.kind == "try_finished", state_journal.c.state != "success"
    )
    with begin_read(engine) as conn:
        return [e or "" for e in conn.execute(query).scalars().all()]
