"""How many transient database errors this worker process rode out, for whoever reports them.

A worker retries what the database refuses for a while (a dropped connection, a lock, a full
disk: :func:`~windvane.core.store.outage.is_transient`): a try's claim
(:func:`~windvane.core.worker.runner.claim_with_retries`), its heartbeats (the next beat is the
retry) and its final write (:mod:`~windvane.core.worker.final_write`). Each of those notes the
error here with :func:`note`; the process's total is :func:`total`.

Core imports no metrics, so the counts travel to whoever exports them: a LocalExecutor worker
sends the errors of each try with its ``done`` message and the scheduler's process counts them in
``windvane_executor_db_transient_errors_total``; a Celery pool process adds them to a counter it
shares with its worker's main process (:func:`share`, a ``multiprocessing.Value`` made before the
pool forks), which serves ``windvane_celery_worker_db_transient_errors_total``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from windvane.core.store.outage import is_transient

log = logging.getLogger(__name__)
T = TypeVar("T")


class SharedCounter(Protocol):
    """What :func:`share` needs: ``multiprocessing.Value("q")``'s lock and value."""

    value: int

    def get_lock(self) -> Any: ...


_total = 0
_shared: SharedCounter | None = None


def share(counter: SharedCounter | None) -> None:
    """Also add every error noted from now on to ``counter`` (None: stop)."""
    global _shared
    _shared = counter


def note(error: BaseException) -> bool:
    """Count ``error`` if it is transient; True when it was. Never raises."""
    global _total
    try:
        if not is_transient(error):
            return False
        _total += 1
        shared = _shared
        if shared is not None:
            with shared.get_lock():
                shared.value += 1
    except Exception:  # counting never breaks what it counts
        log.exception("could not count a transient database error")
    return True


def total() -> int:
    """Transient database errors noted in this process since it started."""
    return _total


def counting(call: Callable[[], T]) -> Callable[[], T]:
    """``call``, noting the transient database error it raises (re-raised)."""

    def counted() -> T:
        try:
            return call()
        except Exception as exc:
            note(exc)
            raise

    return counted
