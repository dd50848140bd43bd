"""Supervising one forked child with heartbeats: the worker's loop.

:func:`run_forked` forks a :class:`~windvane.core.forking.handle.ForkedChild`
and :func:`supervise`\\ s it: it returns as soon as the child's whole result is
in (the child's exit is then only the teardown of its memory, which goes on
while the caller records the result; it is reaped before the next fork), or
when the child has ended otherwise. Meanwhile it:

* calls ``heartbeat`` every ``heartbeat_seconds`` (never for a child that ends
  sooner); a heartbeat returning False means the try lost its claim, and the
  child is terminated; a heartbeat that raises is logged and counts as True;
* past ``deadline_seconds`` sends SIGTERM to the child's process group and,
  ``kill_grace_seconds`` later, SIGKILL.

:func:`terminate_current` lets a signal handler of the supervising process
(a worker being stopped) end the child being supervised.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from windvane.core.forking.ending import ChildEnd
from windvane.core.forking.handle import ForkedChild
from windvane.core.forking.watch import ChildWatcher

log = logging.getLogger(__name__)

#: Why a child whose heartbeat returned False is terminated.
LOST_CLAIM = "its task instance was changed elsewhere while it ran"

_current: ForkedChild | None = None
#: A stop asked for while no child was supervised yet: the signal can land between the fork and
#: the start of supervision, and that child must be ended too (else a worker told to stop now
#: waits for its whole try).
_pending_stop: str | None = None


def terminate_current(reason: str) -> bool:
    """Terminate the child being supervised now (safe in a signal handler); with none yet, the
    next child supervised before the current one's supervision ends is terminated as it starts.
    True when a child was terminated now."""
    global _pending_stop
    child = _current
    if child is None:
        _pending_stop = reason
        return False
    child.terminate(reason)
    return True


def run_forked(
    body: Callable[[], bytes],
    *,
    deadline_seconds: float | None = None,
    kill_grace_seconds: float = 5.0,
    heartbeat_seconds: float | None = None,
    heartbeat: Callable[[], bool] | None = None,
    after_fork: Callable[[], None] | None = None,
    stdio: str | None = None,
    memory_limit_bytes: int = 0,
    tick_seconds: float | None = None,
    tick: Callable[[], object] | None = None,
) -> ChildEnd:
    """Run ``body`` in a forked child and :func:`supervise` it (see the module doc)."""
    child = ForkedChild.fork(
        body,
        after_fork=after_fork,
        stdio=stdio,
        deadline_seconds=deadline_seconds,
        kill_grace_seconds=kill_grace_seconds,
        memory_limit_bytes=memory_limit_bytes,
    )
    return supervise(
        child, heartbeat_seconds=heartbeat_seconds, heartbeat=heartbeat, tick_seconds=tick_seconds, tick=tick
    )


def supervise(
    child: ForkedChild,
    *,
    heartbeat_seconds: float | None = None,
    heartbeat: Callable[[], bool] | None = None,
    tick_seconds: float | None = None,
    tick: Callable[[], object] | None = None,
) -> ChildEnd:
    """Block until ``child`` has reported or ended, beating the heart meanwhile (see the module
    doc); it is the child :func:`terminate_current` ends meanwhile. ``tick`` (e.g. a log size
    check) runs every ``tick_seconds`` while the child runs; if it raises, that is logged."""
    global _current, _pending_stop
    beat_every = heartbeat_seconds if heartbeat is not None and heartbeat_seconds else None
    next_beat = None if beat_every is None else child.started + beat_every
    tick_every = tick_seconds if tick is not None and tick_seconds else None
    next_tick = None if tick_every is None else child.started + tick_every
    watcher = ChildWatcher()
    watcher.add(child)
    _current = child
    if _pending_stop is not None:
        child.terminate(_pending_stop)
    try:
        while True:
            due = [at for at in (next_beat, next_tick) if at is not None]
            timeout = max(0.0, min(due) - time.monotonic()) if due else None
            done = watcher.wait(timeout)
            if done:
                return done[0][1]
            if (
                tick is not None
                and next_tick is not None
                and tick_every is not None
                and time.monotonic() >= next_tick
            ):
                next_tick = time.monotonic() + tick_every
                _tick(tick)
            if next_beat is not None and time.monotonic() < next_beat:
                continue
            if heartbeat is not None and next_beat is not None and beat_every is not None:
                next_beat = time.monotonic() + beat_every
                if not _beat(heartbeat):
                    child.terminate(LOST_CLAIM)
    finally:
        _current = None
        _pending_stop = None
        watcher.close()


def _tick(tick: Callable[[], object]) -> None:
    try:
        tick()
    except Exception:
        log.exception("a periodic check of the running try failed; the try keeps running")


def _beat(heartbeat: Callable[[], bool]) -> bool:
    try:
        return heartbeat()
    except Exception:
        log.exception("heartbeat failed; the try keeps running")
        return True
