"""A worker's reports to the executor: a try's ``running`` and final events in the result backend.

Written by the try's pool process, read by :class:`~windvane.celery.results.ResultReader`
in the scheduler. Celery's own result store costs three commands per state on
Redis (a ``GET`` to avoid overwriting a success, then ``SETEX`` and a
``PUBLISH`` for subscribers); a Windvane try has one writer, no subscriber
(the executor polls) and no state to protect (the claim guard decides), so on a
key-value backend each report is one ``SETEX`` of the same JSON meta Celery
would store (the task runs with ``ignore_result``: Celery stores nothing more).
Other backends (``db+``) go through Celery's ``store_result``.

When the message names a ``reply_to`` list (the executor's, on a Redis result
backend), a report is instead pushed to that list (``RPUSH`` + ``EXPIRE`` in one
round trip), which the executor drains as reports come
(:mod:`windvane.celery.report_list`) instead of polling a key per try.

The ``running`` report is best-effort (the final one still comes); the final
one is retried until the backend answers, so a result backend restart loses
nothing.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime
from typing import Any

from celery import Celery, states
from celery.backends.base import BaseKeyValueStoreBackend

from windvane.celery.config import RESULT_EXPIRES_SECONDS
from windvane.celery.messages import event_to_dict
from windvane.core.model.workload import TaskEvent

log = logging.getLogger(__name__)
_FIRST_BACKOFF = 0.05
_MAX_BACKOFF = 2.0


class ResultWriter:
    """Stores one pool process's reports (see the module doc)."""

    def __init__(self, app: Celery, expires_seconds: int = RESULT_EXPIRES_SECONDS) -> None:
        self._backend = app.backend
        self._expires = expires_seconds
        client = getattr(self._backend, "client", None)
        kv = isinstance(self._backend, BaseKeyValueStoreBackend)
        self._client: Any = client if kv and client is not None and hasattr(client, "setex") else None

    def started(self, task_id: str, event: TaskEvent, reply_to: str | None = None) -> None:
        """The try was claimed and starts; a failure is logged (only the start is not reported)."""
        try:
            self._store(task_id, states.STARTED, event, reply_to)
        except Exception as exc:
            log.warning("could not report the start of %s: %s", event.key, exc)

    def finished(self, task_id: str, event: TaskEvent, reply_to: str | None = None) -> None:
        """The try's final event, stored however long the backend takes to come back."""
        backoff = _FIRST_BACKOFF
        while True:
            try:
                self._store(task_id, states.SUCCESS, event, reply_to)
                return
            except Exception as exc:
                log.warning(
                    "could not report the end of %s (retrying in %.2f s): %s", event.key, backoff, exc
                )
            time.sleep(backoff)
            backoff = min(_MAX_BACKOFF, backoff * 2)

    def _store(self, task_id: str, state: str, event: TaskEvent, reply_to: str | None) -> None:
        result = event_to_dict(event)
        if reply_to is not None and self._client is not None:
            report = json.dumps({"task_id": task_id, "status": state, "result": result})
            pipe = self._client.pipeline(transaction=False)
            pipe.rpush(reply_to, report)
            pipe.expire(reply_to, self._expires)
            pipe.execute()
            return
        if self._client is None:
            self._backend.store_result(task_id, result, state)
            return
        meta: dict[str, Any] = {
            "status": state,
            "result": result,
            "traceback": None,
            "children": [],
            "date_done": datetime.now(UTC).isoformat() if state in states.READY_STATES else None,
            "task_id": task_id,
        }
        key = self._backend.get_key_for_task(task_id)
        self._client.setex(key, self._expires, self._backend.encode(meta))
