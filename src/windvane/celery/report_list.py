"""The executor's report list on a Redis result backend: workers push, one thread drains.

Polling a result key per try in flight costs the scheduler a round trip every few
milliseconds and a try up to one poll interval of latency. On a Redis result
backend the executor names a list of its own in each message (``reply_to``, a
key unique to this executor); the try's pool process pushes its ``running`` and
final reports onto it (:mod:`windvane.celery.reporting`), and a daemon thread
here blocks on the list (``BLPOP``), takes whatever else is there in the same
round trip (``LRANGE`` + ``DEL`` in one transaction) and wakes the scheduler.
Reports keep their order (one pool process pushes a try's two reports, in order).

The backend stays the source of truth only for what the list cannot carry:
Celery's own ``FAILURE`` record of a task that crashed, or a worker that does
not know ``reply_to`` (an older version); the executor reads those keys for the
tries it waited on long (:class:`~windvane.celery.results.ResultReader`). A list
whose executor died expires with its last report (``RESULT_EXPIRES_SECONDS``);
the next scheduler settles those tries from the database, as for any executor.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections import deque
from collections.abc import Callable
from typing import Any

from celery import Celery
from celery.backends.redis import RedisBackend

from windvane.celery.results import Report, report_of

log = logging.getLogger(__name__)
_BLOCK_SECONDS = 1
_FIRST_BACKOFF = 0.05
_MAX_BACKOFF = 2.0
_STOP = "stop"


def can_push(app: Celery) -> bool:
    """Whether ``app``'s result backend is Redis (workers can push reports onto a list)."""
    return isinstance(app.backend, RedisBackend)


class ReportList:
    """Drains this executor's report list in a thread (see the module doc).

    ``on_reports`` is called (from the thread) after new reports were added: the
    executor wakes its scheduler there. :meth:`take` hands them over.
    """

    def __init__(self, app: Celery, on_reports: Callable[[], None]) -> None:
        self.key = f"windvane-reports-{uuid.uuid4().hex}"
        self._client: Any = app.backend.client
        self._on_reports = on_reports
        self._reports: deque[Report] = deque()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="windvane-celery-reports", daemon=True)
        #: Times the list could not be read (each retried after a back-off).
        self.read_failures = 0

    def start(self) -> None:
        self._thread.start()

    @property
    def pending(self) -> bool:
        """Reports not taken yet."""
        return bool(self._reports)

    def take(self) -> list[Report]:
        """Every report drained since the last call, in the order they were pushed."""
        taken = []
        while self._reports:
            taken.append(self._reports.popleft())
        return taken

    def stop(self, timeout: float = 3.0) -> None:
        """End the thread (a marker pushed to the list ends its wait at once) and drop the list."""
        self._stopping.set()
        try:
            self._client.rpush(self.key, json.dumps({_STOP: True}))
        except Exception:  # the backend is down: the thread sees the flag within its back-off
            log.debug("could not push the stop marker to %s", self.key, exc_info=True)
        if self._thread.is_alive():
            self._thread.join(timeout)
        try:
            self._client.delete(self.key)
        except Exception:  # it expires anyway
            log.debug("could not delete %s", self.key, exc_info=True)

    def _run(self) -> None:
        backoff = _FIRST_BACKOFF
        while not self._stopping.is_set():
            try:
                raw = self._read()
            except Exception as exc:  # the backend restarts: the workers retry their pushes meanwhile
                self.read_failures += 1
                log.warning("could not read the Celery report list (retrying in %.2f s): %s", backoff, exc)
                self._stopping.wait(backoff)
                backoff = min(_MAX_BACKOFF, backoff * 2)
                continue
            backoff = _FIRST_BACKOFF
            added = False
            for item in raw:
                report = _decode(item)
                if report is not None:
                    self._reports.append(report)
                    added = True
            if added:
                try:
                    self._on_reports()
                except Exception:  # an observer never breaks what it observes
                    log.exception("the Celery report callback failed")

    def _read(self) -> list[bytes]:
        first = self._client.blpop([self.key], timeout=_BLOCK_SECONDS)
        if first is None:
            return []
        pipe = self._client.pipeline(transaction=True)
        pipe.lrange(self.key, 0, -1)
        pipe.delete(self.key)
        rest, _ = pipe.execute()
        return [first[1], *rest]


def _decode(item: bytes | str) -> Report | None:
    try:
        data = json.loads(item)
        if data.get(_STOP):
            return None
        return report_of(str(data["task_id"]), data)
    except (ValueError, KeyError, TypeError, AttributeError):
        log.error("unreadable report on the Celery report list: %r", item[:300])
        return None
