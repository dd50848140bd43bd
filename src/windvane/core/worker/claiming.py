"""A worker's claim of a try: retried while the database is away, the try failed when it cannot be.

:func:`claim_with_retries` rides out what retrying cures (a dropped connection, a lock, a full
disk: :func:`~windvane.core.store.outage.is_transient`) and raises anything else at once. An
error retrying cannot cure (a constraint, a programming error) must not leave the try queued for
nobody: :func:`fail_unclaimable` fails it, still queued, without running it
(:func:`~windvane.core.store.try_unclaimed.fail_unclaimed_try`), as Airflow fails a try its
executor reports failed while the database still shows it queued. If even that write fails the
try stays queued until the scheduler's ``[scheduler] task_queued_timeout_seconds``.
"""

from __future__ import annotations

import logging
import os
import time

from windvane.core.model.outcome import TryOutcome
from windvane.core.model.workload import TaskEvent, Workload
from windvane.core.store.outage import OutageGuard
from windvane.core.store.raw import RawDb
from windvane.core.store.try_claim import Claim, claim_try
from windvane.core.store.try_unclaimed import fail_unclaimed_try
from windvane.core.worker import db_errors

log = logging.getLogger("windvane.core.worker.runner")


def claim_with_retries(
    db: RawDb,
    workload: Workload,
    *,
    hostname: str,
    give_up_seconds: float,
    first_try: int | None = None,
) -> Claim | None:
    """:func:`claim_try`, retried with backoff while the database is away (a dropped connection,
    a lock, a full disk); :class:`~windvane.errors.DatabaseOutageError` after ``give_up_seconds``
    (the try then stays queued: the scheduler takes it back, at the latest after its
    ``task_queued_timeout``). Each failure is logged.
    """
    guard = OutageGuard("worker", max_outage_seconds=give_up_seconds)
    while True:
        try:
            return claim_try(db, workload, hostname=hostname, pid=os.getpid(), first_try=first_try)
        except Exception as exc:
            if not db_errors.note(exc):
                raise
            pause = guard.failed(exc)
            log.warning(
                "claiming %s.%s try %d failed on the database (%s: %s); retrying in %.1f s",
                workload.dag_id,
                workload.task_id,
                workload.try_number,
                type(exc).__name__,
                _first_line(exc),
                pause,
            )
            time.sleep(pause)


def claim_error(workload: Workload, exc: BaseException) -> str:
    """The error of a try whose claim failed with ``exc``, naming the DAG, run, task and try
    (logged here, with the traceback)."""
    error = (
        f"claiming try {workload.try_number} of task {workload.task_id!r} in run {workload.run_id!r} "
        f"of DAG {workload.dag_id!r} failed on the database ({type(exc).__name__}: {_first_line(exc)}); "
        "the try was failed without running"
    )
    log.error("%s", error, exc_info=exc)
    return error


def fail_unclaimable(db: RawDb, workload: Workload, outcome: TryOutcome, exc: Exception) -> TaskEvent:
    """Record ``outcome`` (the failure :func:`claim_error` named) for the try whose claim failed
    with ``exc``; if that write fails too, ``exc`` is raised (the try stays queued)."""
    try:
        return fail_unclaimed_try(db, workload, outcome)
    except Exception:
        log.exception(
            "could not fail try %d of %s.%s (run %r) after its claim failed; it stays queued until "
            "the scheduler's task_queued_timeout",
            workload.try_number,
            workload.dag_id,
            workload.task_id,
            workload.run_id,
        )
        raise exc from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else ""
