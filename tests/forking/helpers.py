"""Bodies for forked children and a way to wait for a process to be gone."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from typing import NoReturn


def wait_until(condition: Callable[[], bool], *, timeout: float = 10.0) -> bool:
    """Poll ``condition`` until it holds or ``timeout`` passes (for processes this test does not own)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


def gone(pid: int) -> bool:
    """True once ``pid`` no longer runs (exited, reaped or a zombie)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


def hang() -> NoReturn:
    while True:
        time.sleep(60)


def ignore_sigterm_and_hang() -> NoReturn:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    hang()


def exit_with(code: int) -> Callable[[], bytes]:
    def body() -> bytes:
        os._exit(code)

    return body


def kill_self(signum: int) -> Callable[[], bytes]:
    def body() -> bytes:
        os.kill(os.getpid(), signum)
        hang()

    return body
