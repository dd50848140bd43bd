"""Tries the executor waits on whose result never came: what the database says became of them.

Every ``reconcile_seconds`` the executor hands :meth:`Reconciler.check` the
tries it has waited on longer than that, and the reconciler reads their rows:

* still ``queued`` or ``running`` (with the same try number): keep waiting;
* the row is gone, or a later try number: let go, no event (the scheduler
  moved on and knows);
* ended, seen so on two checks in a row (a finishing worker writes the row
  just before its result): if the scheduler ended it itself (the zombie sweep
  after the worker died with its pool, a run timeout: the journal says so),
  let go with no event; otherwise the worker ended it but its result was lost
  (the worker died between the two writes, a result backend that lost data),
  so the event is rebuilt from the row and reported.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from windvane.core.model.states import TaskInstanceState
from windvane.core.model.workload import TaskEvent, Workload
from windvane.core.store.raw import RawDb
from windvane.core.store.try_lifecycle import make_event
from windvane.core.store.try_position import ended_by_scheduler, try_position

log = logging.getLogger(__name__)
_IN_FLIGHT = frozenset({TaskInstanceState.QUEUED.value, TaskInstanceState.RUNNING.value})


@dataclass
class Verdict:
    """Celery task ids to let go silently, and events rebuilt from the database (by task id)."""

    gone: list[str] = field(default_factory=list)
    events: dict[str, TaskEvent] = field(default_factory=dict)


class Reconciler:
    """Tells what became of tries whose result did not come (see the module doc)."""

    def __init__(self, db_url: str) -> None:
        self._db_url = db_url
        self._db: RawDb | None = None
        self._ended: set[str] = set()

    def check(self, tries: Iterable[tuple[str, Workload]]) -> Verdict:
        if self._db is None:
            self._db = RawDb(self._db_url)
        verdict = Verdict()
        ended: set[str] = set()
        try:
            for task_id, workload in tries:
                self._check_one(self._db, task_id, workload, verdict, ended)
        except Exception as exc:  # the database may come back; look again next time
            log.warning("could not reconcile the Celery tries in flight: %s", exc)
            return Verdict()
        self._ended = ended
        return verdict

    def _check_one(
        self, db: RawDb, task_id: str, workload: Workload, verdict: Verdict, ended: set[str]
    ) -> None:
        position = try_position(db, workload.ti_id)
        if position is None or position.try_number != workload.try_number:
            log.warning("Celery task %s: %s moved on to another try; let go", task_id, workload.key)
            verdict.gone.append(task_id)
            return
        if position.state in _IN_FLIGHT:
            return
        if task_id not in self._ended:
            ended.add(task_id)
            return
        if ended_by_scheduler(db, workload):
            log.warning(
                "Celery task %s: the scheduler ended %s (%s); let go", task_id, workload.key, position.state
            )
            verdict.gone.append(task_id)
            return
        log.warning("Celery task %s: no result came for %s; reporting %s from the database", task_id,
                    workload.key, position.state)  # fmt: skip
        verdict.events[task_id] = make_event(
            workload, position.state, time.time(), error=position.error, retry_at=position.next_retry_at
        )

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
