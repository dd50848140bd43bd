"""A finished try's outcome is never lost to a failed database write.

The worker knows how a try ended before it writes it. :func:`record_outcome` first keeps the
outcome in a durable local record (:class:`OutcomeRecords`, one file per try under
``[executor] outcome_folder``, fsynced, owner-only), then writes it with
:func:`~windvane.core.store.try_lifecycle.finish_try`, retrying a failing write with
exponential backoff (0.1 s doubling to 5 s) for up to ``give_up_seconds``; the record is removed
once the write landed, or once the guarded write found the try changed elsewhere (another
party declared it lost). A worker that gives up, or dies, leaves the record behind;
:func:`replay_outcomes` writes what is left when a worker starts, before it takes any work. So
a try that finished is not run again because its final write was lost; only a try declared
lost (no heartbeat for ``task_heartbeat_timeout_seconds``) before its outcome landed is retried.

Every write is a guarded UPDATE (state ``running``, the same try number and job), so writing
an outcome twice, or after the scheduler moved on, changes nothing.

A worker being stopped calls :func:`stop_retrying_by`: from then on the retries end within that
grace (not ``give_up_seconds``); the record stays for the next worker that starts.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import pickle
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from windvane.core.model.outcome import TryOutcome
from windvane.core.model.workload import TaskEvent, Workload
from windvane.core.store.journal_sql import JournalReason
from windvane.core.store.raw import RawDb
from windvane.core.store.try_claim import ClaimNext
from windvane.core.store.try_lifecycle import finish_try
from windvane.core.worker import db_errors

log = logging.getLogger(__name__)

#: First pause after a failed final write; doubled after each failure up to :data:`MAX_BACKOFF`.
FIRST_BACKOFF = 0.1
MAX_BACKOFF = 5.0
#: When a stopping worker stops retrying a final write (``time.monotonic()``); None while not stopping.
_stop_by: float | None = None


def stop_retrying_by(grace: float) -> None:
    """The worker is stopping: a final write still failing ``grace`` seconds from now is given up
    (its record stays). Safe in a signal handler; an earlier deadline stands."""
    global _stop_by
    deadline = time.monotonic() + max(0.0, grace)
    if _stop_by is None or deadline < _stop_by:
        _stop_by = deadline


class OutcomeRecords:
    """The durable outcomes of finished tries not yet written, one file each under ``folder``."""

    def __init__(self, folder: str) -> None:
        self.folder = folder

    def path_for(self, workload: Workload) -> str:
        """The record of one try."""
        return os.path.join(self.folder, f"ti{workload.ti_id}-try{workload.try_number}.outcome")

    def keep(
        self, workload: Workload, outcome: TryOutcome, start: datetime | None, reason: JournalReason | None
    ) -> str:
        """Write the record (atomically: a temporary file, fsync, rename); its path."""
        os.makedirs(self.folder, mode=0o700, exist_ok=True)
        path = self.path_for(workload)
        data = pickle.dumps((workload, outcome.to_json(), start, None if reason is None else reason.value))
        temp = f"{path}.tmp"
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, path)
        return path

    def pending(self) -> list[str]:
        """The records left behind, oldest first."""
        try:
            names = [n for n in os.listdir(self.folder) if n.endswith(".outcome")]
        except FileNotFoundError:
            return []
        paths = [os.path.join(self.folder, n) for n in names]
        return sorted(paths, key=lambda p: os.stat(p).st_mtime)

    @staticmethod
    def load(path: str) -> tuple[Workload, TryOutcome, datetime | None, JournalReason | None]:
        """What :meth:`keep` wrote."""
        with open(path, "rb") as handle:
            workload, outcome_json, start, reason = pickle.load(handle)
        return (
            workload,
            TryOutcome.from_json(outcome_json),
            start,
            None if reason is None else JournalReason(reason),
        )

    @staticmethod
    def drop(path: str) -> None:
        """Remove a record whose outcome landed."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


def record_outcome(
    db: RawDb,
    workload: Workload,
    outcome: TryOutcome,
    *,
    start_date: datetime | None = None,
    reason: JournalReason | None = None,
    records: OutcomeRecords | None = None,
    give_up_seconds: float = 600.0,
    pause: Callable[[float], Any] = time.sleep,
    then: ClaimNext | None = None,
) -> TaskEvent:
    """Write the outcome of a finished try until it lands (see the module doc). Raises the last
    database error after ``give_up_seconds`` (the record, if any, stays for the next start).
    ``then``: the worker's next try, claimed in the same transaction."""
    path = None
    if records is not None:
        try:
            path = records.keep(workload, outcome, start_date, reason)
        except OSError as exc:  # a full or read-only disk: write the outcome all the same
            log.warning("cannot keep the outcome of %s locally: %s", _name(workload), exc)
    event = _write_with_backoff(
        db, workload, outcome, start_date, reason, give_up_seconds, pause, kept=path, then=then
    )
    if path is not None:
        OutcomeRecords.drop(path)
    if outcome.callbacks:  # not stored: they only travel to the scheduler's observers
        event = dataclasses.replace(event, callbacks=outcome.callbacks)
    return event


def replay_outcomes(db: RawDb, records: OutcomeRecords) -> int:
    """Write every outcome a previous worker left behind (one attempt each); how many landed or
    were found settled elsewhere. A record whose write fails stays for the next start."""
    done = 0
    for path in records.pending():
        try:
            workload, outcome, start, reason = records.load(path)
        except Exception as exc:  # unreadable: set aside, never retried forever
            log.error("cannot read the try outcome record %s (%s); moved aside", path, exc)
            with contextlib.suppress(OSError):
                os.replace(path, f"{path}.unreadable")
            continue
        try:
            event = finish_try(db, workload, outcome, start_date=start, reason=reason)
        except Exception as exc:
            log.warning("cannot yet write the recorded outcome of %s: %s", _name(workload), exc)
            continue
        log.warning(
            "wrote the outcome of %s left by a previous worker: %s",
            _name(workload),
            event.state or "already settled elsewhere",
        )
        OutcomeRecords.drop(path)
        done += 1
    return done


def _write_with_backoff(
    db: RawDb,
    workload: Workload,
    outcome: TryOutcome,
    start: datetime | None,
    reason: JournalReason | None,
    give_up_seconds: float,
    pause: Callable[[float], Any],
    kept: str | None = None,
    then: ClaimNext | None = None,
) -> TaskEvent:
    give_up = time.monotonic() + give_up_seconds
    backoff = FIRST_BACKOFF
    failures = 0
    while True:
        try:
            event = finish_try(db, workload, outcome, start_date=start, reason=reason, then=then)
        except Exception as exc:
            failures += 1
            db_errors.note(exc)
            stop_by = _stop_by
            if stop_by is not None and time.monotonic() + backoff > stop_by:
                log.error(
                    "the worker is stopping: gave up writing the outcome of %s after %d failures (%s); %s",
                    _name(workload),
                    failures,
                    exc,
                    f"it is kept in {kept} and written when a worker starts"
                    if kept is not None
                    else "it is lost (no outcome_folder)",
                )
                raise
            if time.monotonic() + backoff > give_up:
                log.error(
                    "gave up writing the outcome of %s after %d failures: %s", _name(workload), failures, exc
                )
                raise
            log.warning(
                "writing the outcome (%s) of %s failed (%s); retrying in %.1f s",
                outcome.state.value,
                _name(workload),
                exc,
                backoff,
            )
            pause(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF)
            continue
        if failures:
            log.warning("the outcome of %s landed after %d failed writes", _name(workload), failures)
        return event


def _name(workload: Workload) -> str:
    return f"{workload.dag_id}.{workload.task_id} run {workload.run_id} try {workload.try_number}"
