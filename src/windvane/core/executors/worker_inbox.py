"""A LocalExecutor worker's messages and its next try (apart from :mod:`.local_worker` for size).

:class:`Inbox` reads the executor's messages, some ahead of their turn (a workload sent while a
try runs); :class:`Follow` is the worker's next try as the current one's finish claims it
(:class:`~windvane.core.store.try_claim.ClaimNext`). A stop (None) among the messages read means
the worker starts nothing more: see :mod:`.local_worker`.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections import deque
from collections.abc import Callable
from multiprocessing.connection import Connection

from windvane.core.model.workload import Workload
from windvane.core.store.try_claim import Claim, ClaimNext
from windvane.core.store.try_lifecycle import make_event
from windvane.core.worker.dag_loader import DagLoader
from windvane.core.worker.runner import sensor_first_try


class Inbox:
    """The executor's messages, some read ahead of their turn: a workload it sent while a try
    ran is this worker's next try (claimed with the current one's finish, or handed back)."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._early: deque[Workload | None] = deque()

    def next(self) -> Workload | None:
        """The next message (blocks)."""
        if self._early:
            return self._early.popleft()
        message: Workload | None = self._conn.recv()
        return message

    def take_follow(self) -> Workload | None:
        """The workload sent ahead while the current try ran, if the next message is one (and
        no stop follows it: a stopping worker starts nothing more)."""
        self._drain()
        if self._early and self._early[0] is not None and None not in self._early:
            return self._early.popleft()
        return None

    def stop_requested(self) -> bool:
        """Whether the executor asked this worker to stop (a None among the messages read)."""
        self._drain()
        return None in self._early

    def hand_back(self) -> None:
        """The current try runs long: return what was sent ahead, so another worker runs it."""
        self._drain()
        if not any(m is not None for m in self._early):
            return
        kept: deque[Workload | None] = deque()
        for message in self._early:
            if message is None:
                kept.append(message)
                continue
            try:
                self._conn.send(("returned", message))
            except OSError:  # the executor is gone: nothing to hand back to
                kept.append(message)
        self._early = kept

    def _drain(self) -> None:
        with contextlib.suppress(EOFError, OSError):
            while self._conn.poll():
                self._early.append(self._conn.recv())


class Follow:
    """The worker's next try, as the current one's finish claims it (see :class:`ClaimNext`)."""

    def __init__(
        self, inbox: Inbox, loader: DagLoader, hostname: str, stopping: Callable[[], bool] = bool
    ) -> None:
        self._inbox = inbox
        self._stopping = stopping
        self._loader = loader
        self._hostname = hostname
        self.taken: ClaimNext | None = None

    def hand_back(self) -> None:
        self._inbox.hand_back()

    def __call__(self) -> ClaimNext | None:
        if self._stopping():  # a stopping or orphaned worker claims nothing more (it would not run it)
            return None
        workload = self._inbox.take_follow()
        if workload is None:
            return None
        first_try = None
        with contextlib.suppress(Exception):  # a DAG that fails to load fails that try, claimed
            task = self._loader.get_dag(workload.fileloc, workload.dag_id).get_task(workload.task_id)
            first_try = sensor_first_try(workload, task)
        self.taken = ClaimNext(workload, self._hostname, os.getpid(), first_try)
        return self.taken

    def next_try(self, conn: Connection) -> tuple[Workload | None, Claim | None]:
        """What to run next without waiting for a message: the try taken (claimed already, or not
        yet if the finish failed before claiming it); None if none was, or its claim failed (the
        executor hears that here)."""
        taken = self.taken
        if taken is None:
            return None, None
        if not taken.tried:
            return taken.workload, None
        if taken.claim is None:
            event = make_event(
                taken.workload, None, time.time(), error="the try was not claimed (no longer queued for it)"
            )
            with contextlib.suppress(OSError):
                conn.send(("done", event, 0, 0, 0, {}))
            return None, None
        return taken.workload, taken.claim
