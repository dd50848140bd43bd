"""Many children in one selector (no database)."""

from __future__ import annotations

import os
import signal

import pytest

from tests.forking.helpers import exit_with, gone, hang, kill_self
from windvane.core.forking import handle
from windvane.core.forking.ending import ChildEnd, Ending
from windvane.core.forking.handle import ForkedChild
from windvane.core.forking.watch import ChildWatcher


def _watch_all(watcher: ChildWatcher) -> dict[int, ChildEnd]:
    ends: dict[int, ChildEnd] = {}
    while len(watcher):
        ends.update((child.pid, end) for child, end in watcher.wait())
    return ends


def test_many_children_end_each_in_its_own_way() -> None:
    big = b"x" * (1 << 20)
    watcher = ChildWatcher()
    children = {
        "small": ForkedChild.fork(lambda: b"small"),
        "big": ForkedChild.fork(lambda: big),
        "exit": ForkedChild.fork(exit_with(4)),
        "segv": ForkedChild.fork(kill_self(signal.SIGSEGV), stdio=os.devnull),
        "hang": ForkedChild.fork(hang, deadline_seconds=0.5, kill_grace_seconds=0),
    }
    for child in children.values():
        watcher.add(child)
    by_pid = _watch_all(watcher)
    ends = {name: by_pid[child.pid] for name, child in children.items()}
    assert ends["small"].payload == b"small" and ends["big"].payload == big
    assert (ends["exit"].how, ends["exit"].exit_code) == (Ending.EXITED, 4)
    assert (ends["segv"].how, ends["segv"].signal_name) == (Ending.SIGNALED, "SIGSEGV")
    assert ends["hang"].how is Ending.TIMED_OUT and ends["hang"].signal == signal.SIGKILL
    assert ends["hang"].duration >= 0.5
    watcher.close()


def test_wait_with_a_timeout_returns_nothing_while_children_run() -> None:
    watcher = ChildWatcher()
    child = ForkedChild.fork(hang)
    watcher.add(child)
    assert watcher.wait(0.05) == []
    assert len(watcher) == 1
    watcher.close()
    assert gone(child.pid)


def test_close_kills_and_reaps_what_still_runs() -> None:
    watcher = ChildWatcher()
    children = [ForkedChild.fork(hang) for _ in range(3)]
    for child in children:
        watcher.add(child)
    watcher.close()
    for child in children:
        assert child.exited and child.read_fd == -1
        with pytest.raises(ChildProcessError):
            os.waitpid(child.pid, os.WNOHANG)


def test_without_pidfds_exits_are_still_seen(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(handle, "_pidfd", lambda pid: None)
    watcher = ChildWatcher()
    crashed = ForkedChild.fork(exit_with(6))
    reported = ForkedChild.fork(lambda: b"ok")
    timed_out = ForkedChild.fork(hang, deadline_seconds=0.2, kill_grace_seconds=0)
    for child in (crashed, reported, timed_out):
        assert child.exit_fd is None
        watcher.add(child)
    ends = _watch_all(watcher)
    assert (ends[crashed.pid].how, ends[crashed.pid].exit_code) == (Ending.EXITED, 6)
    assert ends[reported.pid].payload == b"ok"
    assert ends[timed_out.pid].how is Ending.TIMED_OUT
    watcher.close()


def test_a_pipe_at_its_end_is_let_go_with_its_result() -> None:
    # The result and the end of file come in one read when the child exited before it; the
    # next children reuse the descriptor numbers.
    watcher = ChildWatcher()
    for _ in range(3):
        child = ForkedChild.fork(lambda: b"x")
        os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)
        watcher.add(child)
        [(_, end)] = watcher.wait()
        assert end.payload == b"x"
    assert not watcher._fds
    watcher.close()
