"""A worker's log server and the reader that fetches from it: signed, read-only, byte ranges, tries'
log files only. The server runs in this process on a free port; reader and server have a log folder each."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from windvane.errors import LogFetchError, NotFoundError
from windvane.tasklogs.files import TryLog, log_path
from windvane.tasklogs.remote import RemoteLogs
from windvane.tasklogs.server import LogServer
from windvane.tasklogs.signing import TOKEN_SECONDS, sign, verify

SECRET = "worker-log-secret"
TRY = TryLog("etl", "manual__2024-01-01T00:00:00+00:00", "extract", 2)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Path, LogServer]]:
    folder = tmp_path / "worker-logs"
    path = log_path(folder, TRY.dag_id, TRY.run_id, TRY.task_id, TRY.try_number)
    path.parent.mkdir(parents=True)
    path.write_bytes("line one\nhéllo\n".encode())
    (folder / "secret.txt").write_text("not a log")
    server = LogServer(folder, secret=SECRET, host="127.0.0.1", port=0).start()
    yield folder, server
    server.stop()


def test_a_signature_is_for_one_try_one_secret_and_a_short_time() -> None:
    header = sign(SECRET, TRY, now=1000.0)
    assert verify(SECRET, header, TRY, now=1000.0) is None
    assert "bad signature" in (verify("other", header, TRY, now=1000.0) or "")
    other_try = TryLog(TRY.dag_id, TRY.run_id, TRY.task_id, 1)
    assert "bad signature" in (verify(SECRET, header, other_try, now=1000.0) or "")
    assert "expired" in (verify(SECRET, header, TRY, now=1000.0 + TOKEN_SECONDS + 31) or "")
    assert "no Windvane-Log signature" in (verify(SECRET, None, TRY, now=1000.0) or "")
    assert "no secret" in (verify("", header, TRY, now=1000.0) or "")


def test_the_reader_fetches_a_log_by_byte_ranges(served: tuple[Path, LogServer]) -> None:
    _, server = served
    remote = RemoteLogs(port=server.port, secret=SECRET)
    first = remote.fetch("127.0.0.1", TRY, 0, 11)
    assert first == {"content": "line one\nh", "offset": 0, "next_offset": 10, "size": 16}  # no half é
    rest = remote.fetch("127.0.0.1", TRY, first["next_offset"], 1000)
    assert rest["content"] == "éllo\n" and rest["next_offset"] == rest["size"] == 16


def test_without_the_secret_nothing_is_served(served: tuple[Path, LogServer]) -> None:
    _, server = served
    with pytest.raises(LogFetchError, match=r"refused it \(HTTP 403\): bad signature"):
        RemoteLogs(port=server.port, secret="guess").fetch("127.0.0.1", TRY, 0, 100)
    unsigned = RemoteLogs(port=server.port, secret=SECRET).url("127.0.0.1", TRY, 0, 100)
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(unsigned, timeout=5)
    assert info.value.code == 403
    with pytest.raises(LogFetchError, match=r"set \[celery\] worker_log_server_secret"):
        RemoteLogs(port=server.port, secret="").fetch("127.0.0.1", TRY, 0, 100)


def test_only_tries_logs_inside_the_folder_are_served(served: tuple[Path, LogServer]) -> None:
    _, server = served
    remote = RemoteLogs(port=server.port, secret=SECRET)
    with pytest.raises(NotFoundError, match=r"no log for try 1 of task 'extract'.* nor on the worker"):
        remote.fetch("127.0.0.1", TryLog(TRY.dag_id, TRY.run_id, TRY.task_id, 1), 0, 100)
    with pytest.raises(LogFetchError, match=r"HTTP 400.*outside the logs folder"):
        remote.fetch("127.0.0.1", TryLog("etl", "../../..", "x", 1), 0, 100)


def test_an_unreachable_worker_is_named(tmp_path: Path) -> None:
    server = LogServer(tmp_path, secret=SECRET, host="127.0.0.1", port=0)
    port = server.port
    server.stop()  # nothing listens there now
    with pytest.raises(LogFetchError, match=r"worker '127.0.0.1' that ran it could not be reached on port"):
        RemoteLogs(port=port, secret=SECRET, timeout_seconds=2).fetch("127.0.0.1", TRY, 0, 100)
