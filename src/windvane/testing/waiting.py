"""Waiting in tests without sleeping for synchronisation: poll a condition up to a deadline."""

from __future__ import annotations

import time
from collections.abc import Callable

from windvane.core.executors.base import Executor
from windvane.core.model.workload import TaskEvent

#: How often :func:`wait_for` looks at its condition.
POLL_SECONDS = 0.01


def wait_for(condition: Callable[[], bool], *, timeout: float = 10.0, what: str = "condition") -> None:
    """Return as soon as ``condition()`` holds; raise AssertionError naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(POLL_SECONDS)


def collect_events(
    executor: Executor, count: int, *, timeout: float = 20.0
) -> tuple[list[TaskEvent], list[TaskEvent]]:
    """Drive ``executor`` (``wait`` then ``events``) until ``count`` final events arrived.

    Returns ``(final, running)``: the events of any other state than
    ``running`` (a failed claim's ``None`` included) in arrival order, and the
    ``running`` ones. Raises AssertionError after ``timeout`` seconds.
    """
    final: list[TaskEvent] = []
    running: list[TaskEvent] = []
    deadline = time.monotonic() + timeout
    while len(final) < count:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"only {len(final)} of {count} tries finished in {timeout} s: {final}")
        executor.wait(min(remaining, 1.0))
        for event in executor.events():
            (running if event.state == "running" else final).append(event)
    return final, running
