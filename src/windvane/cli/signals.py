"""Stopping long-running commands cleanly on Ctrl-C (SIGINT) and SIGTERM."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextmanager
def stop_on_signals(stop: Callable[[], None]) -> Iterator[list[int]]:
    """Call ``stop()`` on SIGINT and SIGTERM inside the block; the previous handlers come back after.

    Yields the list the received signal numbers are appended to. ``stop`` runs
    in the signal handler, so it must only set flags and wake sleepers. Off the
    main thread (where no handler can be installed) nothing is installed.
    """
    received: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield received
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        received.append(signum)
        stop()

    previous = {signum: signal.signal(signum, handler) for signum in STOP_SIGNALS}
    try:
        yield received
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)
