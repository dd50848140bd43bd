"""The try of a worker that died: recorded as failed (or up for retry) by the executor.

Under the same guard as a normal finish (``state='running' AND try_number``):
if the worker had not claimed the try yet, or someone else changed the row,
nothing is written and the event says so.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from datetime import timedelta

from windvane.core.model.outcome import TryOutcome, failure_state
from windvane.core.model.states import TaskInstanceState
from windvane.core.model.workload import TaskEvent, Workload
from windvane.core.store.journal_sql import JournalReason
from windvane.core.store.raw import RawDb
from windvane.core.store.try_lifecycle import finish_try, make_event
from windvane.core.worker.runner import DEFAULT_RETRY_DELAY

log = logging.getLogger(__name__)


def record_orphan(db: RawDb, workload: Workload, delay: float | None, exit_code: int | None) -> TaskEvent:
    """Fail the try ``workload`` whose worker ended with ``exit_code`` (negative: a signal);
    ``delay`` is the task's retry delay in seconds if the worker reported it."""
    how = (
        f"was killed by signal {-exit_code}"
        if exit_code is not None and exit_code < 0
        else (f"exited with code {exit_code}")
    )
    error = f"the worker process running task {workload.task_id!r} {how} during the try"
    state = failure_state(workload.try_number, workload.max_tries)
    retry = timedelta(seconds=delay) if delay is not None else DEFAULT_RETRY_DELAY
    outcome = TryOutcome(
        state=state,
        error=error,
        next_retry_delay=retry if state is TaskInstanceState.UP_FOR_RETRY else None,
    )
    try:
        event = finish_try(db, workload, outcome, reason=JournalReason.WORKER_DIED)
    except Exception as exc:
        log.exception("could not record the failure of %s.%s", workload.dag_id, workload.task_id)
        return dataclasses.replace(_blank_event(workload), error=f"{error}; recording it failed: {exc}")
    if event.state is None:
        return dataclasses.replace(event, error=f"{error}, before it claimed the try")
    return event


def _blank_event(workload: Workload) -> TaskEvent:
    return make_event(workload, None, time.time())
