"""Issue 12, defect 3 beyond the scheduler loop: the DAG processor's loop, a worker's claim and a
long-running command's start ride out a database outage (backoff, logged, counted) and stop only
after ``[database] max_outage_seconds`` with a message naming the database (password masked)."""

from __future__ import annotations

import socket
import sqlite3
import threading
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from windvane.cli.db_wait import wait_for_database
from windvane.core.model.workload import Workload
from windvane.core.processor.manager import DagProcessor
from windvane.core.processor.report import ParseReport
from windvane.core.store.engine import create_db_engine
from windvane.core.worker import claiming, runner
from windvane.errors import DatabaseOutageError
from windvane.testing.workloads import make_workload

DROPPED = OperationalError("SELECT 1", {}, Exception("server closed the connection unexpectedly"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_start_with_no_database_fails_after_the_outage_limit_naming_the_url_not_the_password() -> None:
    engine = create_db_engine(f"postgresql://wv:s3cret@127.0.0.1:{_free_port()}/test")
    with pytest.raises(DatabaseOutageError) as raised:
        wait_for_database(engine, max_outage_seconds=1.0)
    message = str(raised.value)
    assert "could not reach the metadata database postgresql" in message
    assert "wv:***@127.0.0.1" in message and "s3cret" not in message
    assert "max_outage_seconds" in message


def _forward(listener: socket.socket, target: tuple[str, int], stop: threading.Event) -> None:
    """A TCP forwarder: the database 'comes up' when this starts listening."""

    def pipe(a: socket.socket, b: socket.socket) -> None:
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass
        finally:
            for s in (a, b):
                s.close()

    listener.settimeout(0.2)
    while not stop.is_set():
        try:
            client, _ = listener.accept()
        except TimeoutError:
            continue
        upstream = socket.create_connection(target)
        threading.Thread(target=pipe, args=(client, upstream), daemon=True).start()
        threading.Thread(target=pipe, args=(upstream, client), daemon=True).start()


@pytest.mark.parametrize("db_backend", ["postgres"], indirect=True)
def test_a_start_waits_for_a_database_that_comes_up(engine: Engine) -> None:
    port = _free_port()
    url = engine.url.set(host="127.0.0.1", port=port)
    waiting = create_db_engine(url.render_as_string(hide_password=False))
    target = (engine.url.host or "127.0.0.1", engine.url.port or 5432)
    stop = threading.Event()
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)

    def come_up() -> None:
        listener.bind(("127.0.0.1", port))
        listener.listen()
        _forward(listener, target, stop)

    timer = threading.Timer(1.2, come_up)  # the outage: nothing listens for 1.2 s
    timer.start()
    try:
        wait_for_database(waiting, max_outage_seconds=30.0)  # returns once the server answers
    finally:
        stop.set()
        timer.join()
        listener.close()
        waiting.dispose()


def test_the_processor_loop_rides_out_transient_errors_and_stops_after_the_limit(
    sqlite_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    processor = DagProcessor(tmp_path, sqlite_engine, max_outage_seconds=60.0)
    stop = threading.Event()
    calls: list[int] = []

    def flaky(force: bool = False) -> ParseReport:
        calls.append(1)
        if len(calls) <= 2:
            raise DROPPED
        if len(calls) == 3:
            raise sqlite3.OperationalError("database is locked")
        stop.set()
        return ParseReport()

    counted: list[int] = []

    def count() -> None:  # the metric's hook; one that raises is logged and ignored
        counted.append(1)
        if len(counted) == 1:
            raise RuntimeError("a broken observer")

    monkeypatch.setattr(processor, "run_once", flaky)
    processor.run(stop, refresh_interval=0.0, on_database_error=count)
    assert len(calls) == 4 and processor.outage.errors == 3 and processor.outage.since is None
    assert len(counted) == 3  # windvane_dag_processor_db_transient_errors_total

    processor = DagProcessor(tmp_path, sqlite_engine, max_outage_seconds=0.6)

    def down(force: bool = False) -> ParseReport:
        raise DROPPED

    monkeypatch.setattr(processor, "run_once", down)
    with pytest.raises(DatabaseOutageError, match="the DAG processor could not reach the metadata database"):
        processor.run(threading.Event(), refresh_interval=0.0)


class _FlakyDb:
    """Fails the claim ``failures`` times with a dropped connection, then grants it."""

    url = "sqlite://"

    def __init__(self, failures: int) -> None:
        self.failures = failures

    def write_one(self, sql: object, params: object) -> list[tuple[None, None, None]]:
        if self.failures:
            self.failures -= 1
            raise DROPPED
        return [(None, None, None)]


def _workload() -> Workload:
    return make_workload(1, 1, "d", "t", "/dags/d.py")


def test_a_worker_claim_is_retried_while_the_database_is_away(monkeypatch: pytest.MonkeyPatch) -> None:
    pauses: list[float] = []
    monkeypatch.setattr(claiming.time, "sleep", pauses.append)
    db = _FlakyDb(failures=3)
    claim = runner.claim_with_retries(db, _workload(), hostname="h", give_up_seconds=60)  # type: ignore[arg-type]
    assert claim is not None
    assert pauses == [0.5, 1.0, 2.0]
    with pytest.raises(DatabaseOutageError, match="the worker could not reach"):
        runner.claim_with_retries(_FlakyDb(failures=10**6), _workload(), hostname="h", give_up_seconds=0)  # type: ignore[arg-type]
