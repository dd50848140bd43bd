"""One forked child: its result, how it ended, its setup (no database)."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import pytest

from tests.forking.helpers import exit_with, gone, hang, kill_self, wait_until
from windvane.core.forking import handle
from windvane.core.forking.child import CHILD_INTERNAL_ERROR, RESULT_LENGTH
from windvane.core.forking.ending import ChildEnd, Ending
from windvane.core.forking.handle import ForkedChild
from windvane.core.forking.supervise import run_forked


def test_the_result_round_trips() -> None:
    end = run_forked(lambda: b"hello")
    assert end.how is Ending.REPORTED and end.payload == b"hello"
    assert end.reason is None and not end.timed_out


def test_an_empty_result_is_a_result() -> None:
    assert run_forked(lambda: b"").payload == b""


def test_a_result_larger_than_the_pipe_buffer_is_read_while_it_is_written() -> None:
    big = os.urandom(1 << 20) * 8  # 8 MiB, far over a 64 KiB pipe buffer
    end = run_forked(lambda: big)
    assert end.how is Ending.REPORTED and end.payload == big


@pytest.mark.parametrize(
    ("body", "code"),
    [(exit_with(3), 3), (lambda: sys.exit(4), 4), (lambda: sys.exit("bye"), 1), (exit_with(0), 0)],
)
def test_a_child_that_exits_without_reporting(body: object, code: int) -> None:
    end = run_forked(body)  # type: ignore[arg-type]
    assert end.how is Ending.EXITED and end.payload is None
    assert end.exit_code == code and end.status == f"exited with code {code}"


@pytest.mark.parametrize("signum", [signal.SIGSEGV, signal.SIGKILL, signal.SIGTERM])
def test_a_child_killed_by_a_signal(signum: signal.Signals) -> None:
    end = run_forked(kill_self(signum), stdio=os.devnull)  # no faulthandler dump in the test output
    assert end.how is Ending.SIGNALED and end.payload is None and end.exit_code is None
    assert end.signal == signum and end.signal_name == signum.name
    assert end.status == f"was killed by signal {signum.name}"


def test_a_body_that_raises_is_an_internal_error_with_its_traceback(tmp_path: Path) -> None:
    out = tmp_path / "out.log"

    def body() -> bytes:
        raise RuntimeError("broken machinery")

    end = run_forked(body, stdio=str(out))
    assert end.how is Ending.INTERNAL_ERROR and end.exit_code == CHILD_INTERNAL_ERROR
    assert "RuntimeError: broken machinery" in out.read_text()


def test_a_failing_after_fork_hook_is_an_internal_error() -> None:
    def after_fork() -> None:
        raise OSError("cannot set up")

    assert run_forked(lambda: b"never", after_fork=after_fork).how is Ending.INTERNAL_ERROR


def _record_pipes(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """The pipes made from now on: a child's body finds its result pipe's write end at ``[-1][1]``."""
    pipes: list[tuple[int, int]] = []
    real_pipe = os.pipe

    def recording_pipe() -> tuple[int, int]:
        pipes.append(real_pipe())
        return pipes[-1]

    monkeypatch.setattr(os, "pipe", recording_pipe)
    return pipes


def test_a_partial_result_then_a_crash_is_no_result(monkeypatch: pytest.MonkeyPatch) -> None:
    pipes = _record_pipes(monkeypatch)

    def body() -> bytes:
        os.write(pipes[-1][1], RESULT_LENGTH.pack(100) + b"only part of it")
        os._exit(9)

    end = run_forked(body)
    assert end.how is Ending.EXITED and end.exit_code == 9 and end.payload is None


def test_after_fork_runs_in_the_child_before_the_body(tmp_path: Path) -> None:
    seen: list[int] = []

    def after_fork() -> None:
        seen.append(os.getpid())

    end = run_forked(lambda: str(seen).encode(), after_fork=after_fork)
    assert end.payload == f"[{end.pid}]".encode()
    assert seen == []  # the parent's list is untouched


def test_stdio_goes_to_the_file_and_stdin_reads_nothing(tmp_path: Path) -> None:
    out = tmp_path / "child.log"
    out.write_text("before\n")

    def body() -> bytes:
        print("to stdout")
        print("to stderr", file=sys.stderr)
        os.write(2, b"raw fd 2\n")
        return os.read(0, 100)

    end = run_forked(body, stdio=str(out))
    assert end.payload == b""
    assert out.read_text().splitlines() == ["before", "to stdout", "to stderr", "raw fd 2"]


def test_the_child_leads_its_own_group_with_default_signals() -> None:
    previous = signal.signal(signal.SIGTERM, lambda *_: None)
    try:

        def body() -> bytes:
            handler = signal.getsignal(signal.SIGTERM)
            return f"{os.getpgid(0)} {handler is signal.SIG_DFL}".encode()

        end = run_forked(body)
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert end.payload == f"{end.pid} True".encode()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="parent-death signal is Linux only")
def test_a_child_dies_with_its_parent() -> None:
    def parent() -> bytes:
        grandchild = ForkedChild.fork(hang)
        return str(grandchild.pid).encode()  # then this process exits, leaving the grandchild

    end = run_forked(parent)
    assert end.payload is not None
    assert wait_until(lambda: gone(int(end.payload or b"0")))


def test_a_child_that_reported_is_not_waited_for_and_reaped_before_the_next_fork(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pipes = _record_pipes(monkeypatch)

    def body() -> bytes:  # reports, then lingers as a slow teardown would
        os.write(pipes[-1][1], RESULT_LENGTH.pack(3) + b"yes")
        hang()

    first = run_forked(body)
    assert first.how is Ending.REPORTED and first.payload == b"yes" and first.exit_code is None
    assert first.status == "reported its result"
    assert first.pid in handle._exiting and not gone(first.pid)
    os.kill(first.pid, signal.SIGKILL)
    assert run_forked(lambda: b"2").payload == b"2"
    assert first.pid not in handle._exiting
    with pytest.raises(ChildProcessError):
        os.waitpid(first.pid, os.WNOHANG)


def test_a_child_ends_once() -> None:
    child = ForkedChild.fork(lambda: b"x")
    child.poll(block=True)
    end = child.end()
    assert isinstance(end, ChildEnd) and end.payload == b"x" and end.exit_code == 0
    with pytest.raises(RuntimeError, match="already ended"):
        child.end()


def test_a_child_reaped_elsewhere_vanished() -> None:
    child = ForkedChild.fork(exit_with(2))
    os.waitpid(child.pid, 0)
    assert child.poll(block=True)
    end = child.end()
    assert end.how is Ending.VANISHED and end.status == "vanished"
