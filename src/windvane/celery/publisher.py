"""Publishing tries to the broker from a thread of its own, so :meth:`Executor.queue` never blocks.

A broker that is down (restarting, unreachable) must not stall the scheduler
loop: :meth:`Publisher.put` only appends to a list; the thread sends in order
and, when a send fails, counts the failure, keeps the message at the head and
tries again after a back-off (0.05 s doubling to 5 s) until the broker is back.
Nothing is lost while this process lives; a scheduler that dies with messages
unsent leaves their tries ``queued`` in the database, which the next
scheduler resets (as for any executor).
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from celery import Celery

log = logging.getLogger(__name__)
_FIRST_BACKOFF = 0.05
_MAX_BACKOFF = 5.0


@dataclass(frozen=True, slots=True)
class Message:
    task_id: str
    queue: str
    body: dict[str, Any]


class Publisher:
    """Sends :class:`Message` objects as ``task_name`` in a daemon thread (see the module doc)."""

    def __init__(
        self, app: Celery, task_name: str, *, on_failure: Callable[[str, Exception], None] | None = None
    ) -> None:
        self._app = app
        self._task_name = task_name
        self._on_failure = on_failure
        self._pending: deque[Message] = deque()
        self._cond = threading.Condition()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="windvane-celery-publisher", daemon=True)
        #: Sends that failed (each retried until it lands).
        self.failures = 0
        #: Messages sent.
        self.published = 0

    def start(self) -> None:
        self._thread.start()

    def put(self, message: Message) -> None:
        with self._cond:
            self._pending.append(message)
            self._cond.notify()

    @property
    def backlog(self) -> int:
        """Messages not sent yet."""
        return len(self._pending)

    def discard(self) -> list[Message]:
        """Take back every message not sent yet."""
        with self._cond:
            taken = list(self._pending)
            self._pending.clear()
            return taken

    def stop(self, timeout: float = 5.0) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        # Results are polled, never awaited: no pub/sub subscription per sent task (Redis would
        # subscribe on every send, and block a send for many seconds while it is down). The
        # app's backend is one per thread: this thread's is the one that sends.
        self._app.backend.on_task_call = _no_subscription
        backoff = _FIRST_BACKOFF
        while True:
            with self._cond:
                while not self._pending and not self._stopping:
                    self._cond.wait()
                if self._stopping:
                    return
                # Off the list while it is sent: discard() must not take back a message that may
                # reach the broker after all (its try would run while the executor forgot it).
                message = self._pending.popleft()
            try:
                self._send(message)
            except Exception as exc:
                with self._cond:
                    self._pending.appendleft(message)
                self.failures += 1
                log.warning(
                    "could not publish try %s to Celery queue %r (retrying in %.2f s): %s",
                    message.task_id,
                    message.queue,
                    backoff,
                    exc,
                )
                if self._on_failure is not None:
                    try:
                        self._on_failure(message.queue, exc)
                    except Exception:  # an observer never breaks what it observes
                        log.exception("the publish-failure callback failed")
                with self._cond:
                    if not self._stopping:
                        self._cond.wait(backoff)
                backoff = min(_MAX_BACKOFF, backoff * 2)
                continue
            backoff = _FIRST_BACKOFF
            self.published += 1

    def _send(self, message: Message) -> None:
        with self._app.producer_or_acquire() as producer:
            self._app.send_task(
                self._task_name,
                args=(message.body,),
                task_id=message.task_id,
                queue=message.queue,
                producer=producer,
                retry=False,
            )


def _no_subscription(producer: Any, task_id: str) -> None:
    return None
