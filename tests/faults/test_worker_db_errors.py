"""Issue 12 item 3, workers: the transient database errors a worker rides out are counted.

A LocalExecutor worker reports them with each try's ``done`` message and the executor hands them
to the scheduler (``windvane_executor_db_transient_errors_total``); a Celery pool process adds
them to a counter shared with its worker (tests/metrics/test_sink.py). The real fault: the
worker's database goes away (a TCP proxy in front of PostgreSQL stops) while a try runs.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from tests.forking.helpers import wait_until
from windvane.core.executors.local import LocalExecutor
from windvane.core.worker import claiming, db_errors, runner
from windvane.testing import queued_try, ti_row
from windvane.testing.waiting import collect_events
from windvane.testing.workloads import make_workload

DROPPED = OperationalError("SELECT 1", {}, Exception("server closed the connection unexpectedly"))
DAG_SOURCE = """
import time
from datetime import datetime, timezone
from windvane import DAG, PythonOperator

with DAG("outage", schedule=None, start_date=datetime(2024, 1, 1, tzinfo=timezone.utc)):
    PythonOperator(task_id="slow", python_callable=lambda: time.sleep({seconds}))
"""
#: How long the database stays away while the try runs (the fault, not a synchronisation).
OUTAGE_SECONDS = 1.0


def test_only_transient_errors_are_counted_and_counting_never_raises() -> None:
    before = db_errors.total()
    assert db_errors.note(DROPPED) is True
    assert db_errors.note(ValueError("a bug")) is False

    def beat() -> None:
        raise DROPPED

    with pytest.raises(OperationalError):
        db_errors.counting(beat)()
    assert db_errors.total() - before == 2

    class Broken:
        value = 0

        def get_lock(self) -> object:
            raise RuntimeError("a broken shared counter")

    db_errors.share(Broken())  # type: ignore[arg-type]
    try:
        assert db_errors.note(DROPPED) is True
    finally:
        db_errors.share(None)
    assert db_errors.total() - before == 3


class _FlakyDb:
    url = "sqlite://"

    def __init__(self, failures: int) -> None:
        self.failures = failures

    def write_one(self, sql: object, params: object) -> list[tuple[None, None, None]]:
        if self.failures:
            self.failures -= 1
            raise DROPPED
        return [(None, None, None)]


def test_a_claim_retried_while_the_database_is_away_counts_each_failure(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(claiming.time, "sleep", lambda seconds: None)
    before = db_errors.total()
    workload = make_workload(1, 1, "d", "t", "/dags/d.py")
    assert runner.claim_with_retries(_FlakyDb(3), workload, hostname="h", give_up_seconds=60) is not None  # type: ignore[arg-type]
    assert db_errors.total() - before == 3


class _Proxy:
    """A TCP proxy to the database that can be stopped (connections cut, nothing listening)."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = int(probe.getsockname()[1])
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen()
        listener.settimeout(0.1)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, args=(listener, self._stop), daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        with self._lock:
            for s in self._sockets:
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()
            self._sockets.clear()

    def _accept(self, listener: socket.socket, stop: threading.Event) -> None:
        with listener:
            while not stop.is_set():
                try:
                    client, _ = listener.accept()
                except TimeoutError:
                    continue
                upstream = socket.create_connection(self.target)
                with self._lock:
                    self._sockets += [client, upstream]
                for a, b in ((client, upstream), (upstream, client)):
                    threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(a: socket.socket, b: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := a.recv(65536):
                b.sendall(data)
        with contextlib.suppress(OSError):
            b.shutdown(socket.SHUT_RDWR)


@pytest.mark.parametrize("db_backend", ["postgres"], indirect=True)
def test_a_local_worker_reports_the_errors_of_an_outage_it_rode_out(engine: Engine, tmp_path: Path) -> None:
    dag_file = tmp_path / "outage.py"
    dag_file.write_text(DAG_SOURCE.format(seconds=OUTAGE_SECONDS + 2.0))
    proxy = _Proxy((engine.url.host or "127.0.0.1", engine.url.port or 5432))
    proxy.start()
    url = engine.url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    executor = LocalExecutor(1, db_url=url, log_folder=str(tmp_path / "logs"), heartbeat_seconds=0.2)
    executor.start()
    try:
        workload = queued_try(engine, str(dag_file), "outage", "slow")
        executor.queue(workload)
        running: list[object] = []

        def started() -> bool:
            executor.wait(0.2)
            running.extend(e for e in executor.events() if e.state == "running")
            return bool(running)

        assert wait_until(started, timeout=30), "the try never started"
        assert executor.take_db_errors() == 0
        proxy.stop()  # the database goes away while the try runs: its heartbeats fail
        time.sleep(OUTAGE_SECONDS)  # the outage's length (the fault itself, not a synchronisation)
        proxy.start()
        [done], _ = collect_events(executor, 1, timeout=30)
        assert done.state == "success", ti_row(engine, workload.ti_id)["error"]
        errors = executor.take_db_errors()
        assert errors >= 1  # each failed heartbeat (every 0.2 s through a 1 s outage)
        assert executor.db_transient_errors == errors
        assert executor.take_db_errors() == 0  # taken once
    finally:
        executor.end(graceful=False)
        proxy.stop()
