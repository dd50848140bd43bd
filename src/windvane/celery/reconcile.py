"""Tries the executor waits on that ended without a result: found in the database and let go.

A worker that dies with its whole process group (a host lost, ``kill -9`` of
the worker and its pool) reports nothing. The scheduler's zombie sweep ends
such a try when its heartbeats stop (``up_for_retry`` or ``failed``); the
executor must then stop counting it, or the slot is lost for good. Every
``every_seconds`` the executor hands the tries it waited on longer than that to
:meth:`Reconciler.stale`, which reads their rows: a try whose row moved on (a
later try number, or the same try out of ``queued``/``running`` on two reads
in a row: a finishing worker writes the row just before its result) is let go
without an event (whoever ended it told the scheduler already).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from windvane.core.model.states import TaskInstanceState
from windvane.core.model.workload import Workload
from windvane.core.store.raw import RawDb
from windvane.core.store.try_lifecycle import try_position

log = logging.getLogger(__name__)
_IN_FLIGHT = frozenset({TaskInstanceState.QUEUED.value, TaskInstanceState.RUNNING.value})


class Reconciler:
    """Tells which tries in flight someone else ended (see the module doc)."""

    def __init__(self, db_url: str) -> None:
        self._db_url = db_url
        self._db: RawDb | None = None
        self._suspect: set[str] = set()

    def stale(self, tries: Iterable[tuple[str, Workload]]) -> list[str]:
        """The Celery task ids among ``tries`` to let go."""
        if self._db is None:
            self._db = RawDb(self._db_url)
        gone: list[str] = []
        suspect: set[str] = set()
        for task_id, workload in tries:
            try:
                position = try_position(self._db, workload.ti_id)
            except Exception as exc:  # the database may come back; try again next time
                log.warning("could not read task instance %s to reconcile it: %s", workload.key, exc)
                return gone
            if position is None or position[1] != workload.try_number:
                gone.append(task_id)
            elif position[0] not in _IN_FLIGHT:
                if task_id in self._suspect:
                    gone.append(task_id)
                else:
                    suspect.add(task_id)
        self._suspect = suspect
        for task_id in gone:
            log.warning("Celery task %s: its try was ended by someone else (no result came); let go", task_id)
        return gone

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
