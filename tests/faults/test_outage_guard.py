"""Issue 12, defects 3 and 5: which database errors are transient, and how long they are ridden out."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy.exc import IntegrityError, OperationalError

from windvane.core.store.outage import MAX_PAUSE, OutageGuard, is_transient
from windvane.errors import DatabaseOutageError


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    "error",
    [
        OperationalError("SELECT 1", {}, Exception("server closed the connection unexpectedly")),
        sqlite3.OperationalError("database is locked"),
        sqlite3.OperationalError("database or disk is full"),
        OSError(28, "No space left on device"),
        RuntimeError("wrapped"),
    ],
)
def test_outages_are_transient(error: BaseException) -> None:
    if isinstance(error, RuntimeError):
        error.__cause__ = sqlite3.OperationalError("disk I/O error")
    assert is_transient(error)


@pytest.mark.parametrize(
    "error",
    [
        IntegrityError("INSERT", {}, Exception("duplicate key")),
        ValueError("integer out of range"),
        KeyError("dag"),
    ],
)
def test_bugs_and_bad_data_are_not_transient(error: BaseException) -> None:
    assert not is_transient(error)


def test_backoff_doubles_to_a_ceiling_and_a_success_ends_the_outage() -> None:
    clock = FakeClock()
    guard = OutageGuard("scheduler", max_outage_seconds=300, clock=clock)
    pauses = [guard.failed(OSError("connection refused")) for _ in range(8)]
    assert pauses[:3] == [0.5, 1.0, 2.0] and max(pauses) == MAX_PAUSE
    clock.now = 42.0
    assert guard.succeeded() == 42.0
    assert guard.succeeded() is None
    assert guard.failed(OSError("connection refused")) == 0.5  # a new outage starts over
    assert guard.errors == 9


def test_an_outage_longer_than_allowed_raises_naming_process_and_setting() -> None:
    clock = FakeClock()
    guard = OutageGuard("scheduler", max_outage_seconds=30, clock=clock)
    guard.failed(OSError("connection refused"))
    clock.now = 31.0
    with pytest.raises(DatabaseOutageError, match=r"scheduler .* for 31 s .*max_outage_seconds = 30"):
        guard.failed(OSError("connection refused"))
