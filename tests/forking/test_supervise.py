"""Supervising one child: deadline, grace period, heartbeats, a stopping worker (no database)."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator

import pytest

from tests.forking.helpers import gone, hang, ignore_sigterm_and_hang, wait_until
from windvane.core.forking import supervise
from windvane.core.forking.ending import Ending
from windvane.core.forking.handle import ForkedChild
from windvane.core.forking.supervise import LOST_CLAIM, run_forked, terminate_current


@pytest.fixture(autouse=True)
def no_pending_stop() -> Iterator[None]:
    """A stop asked with no child supervised waits for the next one: never across tests."""
    yield
    supervise._pending_stop = None


def test_past_its_deadline_a_child_gets_sigterm() -> None:
    end = run_forked(hang, deadline_seconds=0.3, kill_grace_seconds=30)
    assert end.how is Ending.TIMED_OUT and end.timed_out
    assert end.reason == "timed out after 0.3 s"
    assert end.signal == signal.SIGTERM and end.duration < 30


def test_a_child_ignoring_sigterm_gets_sigkill_after_the_grace_period() -> None:
    end = run_forked(ignore_sigterm_and_hang, deadline_seconds=0.5, kill_grace_seconds=0.3)
    assert end.how is Ending.TIMED_OUT and end.signal == signal.SIGKILL
    assert end.duration >= 0.8


def test_no_grace_means_sigkill_at_the_deadline() -> None:
    end = run_forked(ignore_sigterm_and_hang, deadline_seconds=0.3, kill_grace_seconds=0)
    assert end.how is Ending.TIMED_OUT and end.signal == signal.SIGKILL


def test_the_whole_process_group_is_terminated() -> None:
    pid_file = os.pipe()

    def body() -> bytes:
        grandchild = os.fork()
        if grandchild == 0:
            hang()
        os.write(pid_file[1], f"{grandchild}\n".encode())
        hang()

    end = run_forked(body, deadline_seconds=0.3, kill_grace_seconds=5)
    os.close(pid_file[1])
    grandchild = int(os.read(pid_file[0], 64))
    os.close(pid_file[0])
    assert end.how is Ending.TIMED_OUT
    assert wait_until(lambda: gone(grandchild))


def test_a_result_that_arrived_wins_over_a_later_deadline() -> None:
    end = run_forked(lambda: b"done", deadline_seconds=60)
    assert end.how is Ending.REPORTED and end.reason is None


def test_heartbeats_while_the_child_runs_and_a_false_one_terminates_it() -> None:
    beats: list[float] = []

    def heartbeat() -> bool:
        beats.append(time.monotonic())
        return len(beats) < 3

    end = run_forked(hang, heartbeat_seconds=0.05, heartbeat=heartbeat, kill_grace_seconds=5)
    assert len(beats) >= 3  # it beats on while the terminated child ends
    assert end.how is Ending.KILLED and end.reason == LOST_CLAIM and not end.timed_out
    assert end.signal == signal.SIGTERM


def test_no_heartbeat_for_a_child_that_ends_sooner() -> None:
    beats: list[float] = []
    end = run_forked(lambda: b"quick", heartbeat_seconds=30, heartbeat=lambda: beats.append(1.0) or True)
    assert end.payload == b"quick" and beats == []


def test_a_heartbeat_that_raises_is_logged_and_the_child_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    beats: list[int] = []

    def heartbeat() -> bool:
        beats.append(1)
        if len(beats) == 1:
            raise ConnectionError("database away")
        return False

    end = run_forked(hang, heartbeat_seconds=0.05, heartbeat=heartbeat)
    assert len(beats) >= 2 and end.how is Ending.KILLED
    assert "heartbeat failed; the try keeps running" in caplog.text


def test_terminate_current_ends_the_child_being_supervised() -> None:
    answers: list[bool] = []

    def heartbeat() -> bool:  # stands in for a worker's SIGTERM handler
        answers.append(terminate_current("the worker was stopped"))
        return True

    end = run_forked(hang, heartbeat_seconds=0.05, heartbeat=heartbeat)
    assert answers[0] is True
    assert end.how is Ending.KILLED and end.reason == "the worker was stopped"


def test_only_the_first_reason_counts() -> None:
    child = ForkedChild.fork(hang, kill_grace_seconds=5)
    child.terminate("first")
    child.terminate("second", timed_out=True)
    child.poll(block=True)
    end = child.end()
    assert end.reason == "first" and not end.timed_out and end.how is Ending.KILLED


def test_a_stop_asked_between_the_fork_and_supervision_still_ends_the_child() -> None:
    # A worker's SIGTERM handler can run after os.fork() but before supervision starts: the
    # request must not be lost, or the worker waits for the whole try (regression).
    assert terminate_current("the worker was stopped") is False
    end = run_forked(hang, deadline_seconds=20, kill_grace_seconds=5)
    assert end.how is Ending.KILLED and end.reason == "the worker was stopped"
    assert end.duration < 10


def test_a_pending_stop_applies_to_one_child_only() -> None:
    terminate_current("the worker was stopped")
    run_forked(hang, deadline_seconds=20, kill_grace_seconds=5)
    end = run_forked(lambda: b"done", deadline_seconds=20)
    assert end.how is Ending.REPORTED and end.payload == b"done"
