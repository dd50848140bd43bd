"""Reading what workers reported in the result backend: many tries in one round trip.

A worker stores a try's ``running`` event as the Celery state ``STARTED`` and
its final event as ``SUCCESS``, both JSON (:mod:`windvane.celery.messages`,
written by :mod:`windvane.celery.reporting`; a Celery task that crashed is
stored by Celery as ``FAILURE``). The executor asks for all the tries it
waits on at once: on a key-value backend (Redis) one ``MGET``; elsewhere (a
``db+`` backend) one read per try. A result read as final is deleted, so the
backend holds only tries in flight (and, for a dead scheduler, results that
expire after a day).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from celery import Celery, states
from celery.backends.base import BaseKeyValueStoreBackend

from windvane.celery.messages import event_from_dict
from windvane.core.model.workload import TaskEvent

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Report:
    """What the backend says of one Celery task: ``started`` (with its running event) or ``final``."""

    task_id: str
    event: TaskEvent | None
    final: bool
    #: The Celery task itself failed (not the try): its text, for the event's error.
    failure: str | None = None


class ResultReader:
    """Reads and forgets the results of the tries an executor waits on."""

    def __init__(self, app: Celery) -> None:
        self._backend = app.backend
        self._kv = isinstance(self._backend, BaseKeyValueStoreBackend)

    def read(self, task_ids: Sequence[str]) -> list[Report]:
        """Reports for those of ``task_ids`` that started or ended (others: nothing yet)."""
        if not task_ids:
            return []
        metas = self._read_kv(task_ids) if self._kv else self._read_each(task_ids)
        reports = []
        for task_id, meta in zip(task_ids, metas, strict=True):
            if meta is None:
                continue
            report = report_of(task_id, meta)
            if report is not None:
                reports.append(report)
        return reports

    def forget(self, task_ids: Sequence[str]) -> None:
        """Delete these results (read as final already)."""
        if not task_ids:
            return
        try:
            client = getattr(self._backend, "client", None)
            if self._kv and client is not None and hasattr(client, "delete"):
                client.delete(*[self._backend.get_key_for_task(t) for t in task_ids])
            else:
                for task_id in task_ids:
                    self._backend.forget(task_id)
        except Exception as exc:  # they expire anyway
            log.warning("could not delete %d Celery results: %s", len(task_ids), exc)

    def _read_kv(self, task_ids: Sequence[str]) -> list[dict[str, Any] | None]:
        backend = self._backend
        assert isinstance(backend, BaseKeyValueStoreBackend)
        values = backend.mget([backend.get_key_for_task(t) for t in task_ids])
        return [None if v is None else backend.decode_result(v) for v in values]

    def _read_each(self, task_ids: Sequence[str]) -> list[dict[str, Any] | None]:
        out: list[dict[str, Any] | None] = []
        for task_id in task_ids:
            meta = self._backend.get_task_meta(task_id, cache=False)
            out.append(None if meta.get("status") == states.PENDING else meta)
        return out


def report_of(task_id: str, meta: dict[str, Any]) -> Report | None:
    """The report a result's meta (``status``, ``result``) makes (None: nothing to report yet)."""
    status = meta.get("status")
    result = meta.get("result")
    if status == states.STARTED:
        event = _event(task_id, result)
        return None if event is None else Report(task_id, event, final=False)
    if status == states.SUCCESS:
        event = _event(task_id, result)
        if event is None:
            return Report(task_id, None, final=True, failure=f"unreadable result {result!r:.200}")
        return Report(task_id, event, final=True)
    if status in (states.FAILURE, states.REVOKED):
        return Report(task_id, None, final=True, failure=f"{status}: {result!r:.500}")
    return None


def _event(task_id: str, result: Any) -> TaskEvent | None:
    try:
        return event_from_dict(result)
    except (KeyError, TypeError, ValueError, AttributeError):
        log.error("Celery task %s reported an unreadable Windvane event: %r", task_id, result)
        return None
