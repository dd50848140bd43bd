"""Quarantining a DAG whose own data makes a scheduler step fail, so that the loop goes on.

A stored DAG can hold what the database or the scheduler's arithmetic refuses (a value out of a
column's range from an older Windvane, a serialized form that no longer reads, a schedule whose
next run overflows, a DAG changed between a trigger and the run's start). Such a failure belongs
to that DAG alone: the scheduler quarantines it (no new runs, not re-read) until its ``dag_hash``
changes, logs it, tells observers
(:meth:`SchedulerObserver.dag_quarantined`, the ``windvane_scheduler_dag_quarantined_total`` metric)
and records it as the import error of the DAG's file, where ``windvane dags list-import-errors`` and
``windvane dags list`` show it. Lost connections and locks are not a DAG's fault and are raised
(:data:`TRANSIENT_DB_ERRORS`).

Records are written after the pass (:meth:`Quarantine.flush`): on SQLite a second write
transaction inside the pass's own would wait for itself.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from sqlalchemy.exc import InterfaceError, OperationalError

from windvane.core.model.quarantine_note import QUARANTINE_MARK, quarantine_note
from windvane.core.scheduler.observer import DagQuarantined
from windvane.core.store.engine import begin_write
from windvane.core.store.import_errors import replace_import_error

if TYPE_CHECKING:
    import pendulum
    from sqlalchemy import Engine

    from windvane.core.scheduler.observer import SchedulerObserver

log = logging.getLogger("windvane.scheduler")

#: Database errors that say nothing about a DAG (a lost connection, a lock): never quarantined.
TRANSIENT_DB_ERRORS = (OperationalError, InterfaceError)


class Quarantine:
    """The DAGs (by id, at the ``dag_hash`` that failed) the scheduler leaves alone."""

    def __init__(self, engine: Engine, observer: SchedulerObserver) -> None:
        self.engine = engine
        self.observer = observer
        self.held: dict[str, str] = {}
        #: DAGs that left the quarantine since the scheduler last loaded their running runs.
        self.released: set[str] = set()
        self._pending: list[DagQuarantined] = []

    def holds(self, dag_id: str, dag_hash: str) -> bool:
        """Whether ``dag_id`` at ``dag_hash`` is quarantined (a new hash releases it)."""
        held = self.held.get(dag_id)
        if held is None:
            return False
        if held != dag_hash:
            del self.held[dag_id]
            self.released.add(dag_id)
            log.info("DAG %r changed; it leaves the quarantine", dag_id)
            return False
        return True

    def isolate(
        self,
        dag_id: str,
        dag_hash: str,
        fileloc: str,
        step: str,
        error: BaseException,
        now: pendulum.DateTime,
    ) -> None:
        """Quarantine ``dag_id`` after ``step`` failed with ``error`` (re-raised if transient)."""
        if isinstance(error, TRANSIENT_DB_ERRORS):
            raise error
        text = f"{type(error).__name__}: {error}".strip()
        log.error("DAG %r %s: %s failed: %s", dag_id, QUARANTINE_MARK, step, text, exc_info=error)
        self.held[dag_id] = dag_hash
        event = DagQuarantined(dag_id, dag_hash, fileloc, step, text, now)
        self._pending.append(event)
        self.observer.dag_quarantined(event)

    def flush(self) -> None:
        """Record the quarantines of the pass as import errors (outside any other transaction)."""
        pending, self._pending = self._pending, []
        for event in pending:
            note = quarantine_note(event.dag_id, event.at, event.step, event.error)
            try:
                with begin_write(self.engine) as conn:
                    replace_import_error(conn, event.fileloc, note, event.at)
            except Exception:  # the log line and the metric already tell; the loop goes on
                log.exception("could not record the quarantine of DAG %r", event.dag_id)
