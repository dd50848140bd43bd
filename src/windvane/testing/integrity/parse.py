"""Parsing DAG files for the checks: one forked child per file, several at once, each with a deadline.

:func:`inspect_files` forks a child per file (the body is :func:`.child.child_body`)
and watches them together with a :class:`~windvane.core.forking.watch.ChildWatcher`,
as the DAG processor's pool does. A file whose child runs past ``timeout`` is
killed (SIGKILL) and reported as timed out; a child that dies without reporting
(``os._exit``, a segfault) is reported as crashed. Either way only that file
fails; the others go on. The parent warms up first (Windvane's operators
imported), so a child only runs the user's file.
"""

from __future__ import annotations

import functools
import os
from collections import deque
from collections.abc import Sequence

from windvane.core.forking.ending import ChildEnd, Ending
from windvane.core.forking.handle import ForkedChild
from windvane.core.forking.watch import ChildWatcher
from windvane.core.processor.warmup import warm_up
from windvane.testing.integrity.child import child_body
from windvane.testing.integrity.facts import FileFacts


def _failure(end: ChildEnd, timeout: float) -> str:
    if end.how is Ending.TIMED_OUT:
        return (
            f"parsing took longer than the parse timeout ({timeout:g} s) and was stopped: "
            "the file hangs or does slow work at import time"
        )
    if end.how is Ending.SIGNALED:
        return f"the parsing process was killed by {end.signal_name} (the file crashed the interpreter)"
    if end.exit_code is not None and end.how is not Ending.INTERNAL_ERROR:
        return f"the parsing process exited with code {end.exit_code} before reporting (os._exit at import?)"
    return f"the parsing process ended without reporting ({end.how.value})"


def _facts(path: str, end: ChildEnd, timeout: float) -> FileFacts:
    if end.payload is not None:
        try:
            return FileFacts.decode(end.payload).with_timing(end.duration)
        except (ValueError, KeyError, TypeError):
            pass
    return FileFacts(path, end.duration, error=_failure(end, timeout), timed_out=end.how is Ending.TIMED_OUT)


def inspect_files(
    paths: Sequence[str],
    *,
    user_root: str,
    timeout: float,
    parallelism: int,
    secret_patterns: Sequence[str],
) -> dict[str, FileFacts]:
    """The facts of each file in ``paths`` (absolute), each parsed in its own child."""
    if parallelism < 1:
        raise ValueError(f"parallelism must be >= 1, got {parallelism}")
    warm_up()
    pending = deque(paths)
    watcher = ChildWatcher()
    running: dict[int, str] = {}
    results: dict[str, FileFacts] = {}
    patterns = tuple(secret_patterns)
    try:
        while pending or running:
            while pending and len(running) < parallelism:
                path = pending.popleft()
                body = functools.partial(child_body, path, user_root, patterns)
                child = ForkedChild.fork(
                    body, stdio=os.devnull, deadline_seconds=timeout, kill_grace_seconds=0
                )
                running[child.pid] = path
                watcher.add(child)
            for child, end in watcher.wait():
                path = running.pop(child.pid)
                results[path] = _facts(path, end, timeout)
    finally:
        watcher.close()
    return results
