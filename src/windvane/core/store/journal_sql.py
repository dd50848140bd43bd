"""Writing the state-change journal: the one ``INSERT`` every write site runs, on any DBAPI connection.

The ``state_journal`` table records, in the same transaction as the change,
every state change that matters to someone not watching at the time (see
docs/runtime.md, "The state-change journal"): a try finishing in any state,
a run finishing, a task instance cleared. Writers collect the rows of one
transaction in a :class:`JournalBatch` (fed by the ``RETURNING`` rows of their
guarded updates, so an update that changed nothing journals nothing) and
:meth:`JournalBatch.write` them as the transaction's **last** statement.

Ids must grow in commit order, or a reader that has passed id *n* would miss
an *n - 1* committed later. SQLite has one writer at a time, so they do; on
PostgreSQL the insert first takes a transaction-level advisory lock, held to
the commit. Taking it last (after every row lock of the transaction) means a
transaction holding it never waits for another: no deadlock.

This module is the statements' single source; workers run it on a
:class:`~windvane.core.store.raw.RawDb` (it imports no SQLAlchemy), the
scheduler and the CLI on the DBAPI connection under SQLAlchemy's.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any

from windvane.core.store.raw_sql import POSTGRESQL, Sql, Tx, read_time


class JournalKind(StrEnum):
    TRY_FINISHED = "try_finished"
    RUN_FINISHED = "run_finished"
    CLEARED = "cleared"


class JournalReason(StrEnum):
    """Why a change happened when the task itself did not decide it (None: it did, or the rules)."""

    #: The scheduler gave up on a running try whose heartbeats stopped.
    ZOMBIE = "zombie"
    #: The executor saw the worker process running the try die.
    WORKER_DIED = "worker_died"
    #: The run passed its ``dagrun_timeout``: the run's row and the tries it skipped.
    DAGRUN_TIMEOUT = "dagrun_timeout"
    #: A branch task skipped it.
    BRANCH = "branch"


#: The task-instance states whose arrival is journaled (``removed`` is not: no try ended).
JOURNALED_TI_STATES = frozenset({"success", "failed", "up_for_retry", "skipped", "upstream_failed"})
#: The longest ``error`` kept: the end of the text, where a traceback names the failure.
ERROR_LIMIT = 4000
#: What a task-instance update returns for its journal rows, in this order (see :meth:`JournalBatch.add_tis`).
TI_RETURNING = (
    "id",
    "dag_run_id",
    "dag_id",
    "run_id",
    "task_id",
    "map_index",
    "try_number",
    "max_tries",
    "state",
    "error",
    "next_retry_at",
    "hostname",
)
TI_RETURNING_SQL = "RETURNING " + ", ".join(TI_RETURNING)
#: What a run update returns for its journal row (see :meth:`JournalBatch.add_runs`).
RUN_RETURNING = ("id", "dag_id", "run_id", "state")
RUN_RETURNING_SQL = "RETURNING " + ", ".join(RUN_RETURNING)

COLUMNS = (
    "recorded_at",
    "kind",
    "reason",
    "dag_id",
    "run_id",
    "dag_run_id",
    "task_id",
    "map_index",
    "ti_id",
    "try_number",
    "max_tries",
    "state",
    "error",
    "next_retry_at",
    "hostname",
)
_INSERT = Sql(
    f"INSERT INTO state_journal ({', '.join(COLUMNS)}) VALUES ({', '.join(':' + c for c in COLUMNS)})"
)
#: PostgreSQL advisory lock key serializing journal inserts ("wvjourn" in ASCII).
LOCK_KEY = 0x77766A6F75726E
_LOCK = Sql(f"SELECT pg_advisory_xact_lock({LOCK_KEY})")


def error_summary(error: str | None) -> str | None:
    """``error`` cut to its last :data:`ERROR_LIMIT` characters."""
    if error is None or len(error) <= ERROR_LIMIT:
        return error
    return "..." + error[-(ERROR_LIMIT - 3) :]


class JournalBatch:
    """The journal rows of one transaction, all stamped ``recorded_at``; see the module doc."""

    __slots__ = ("recorded_at", "rows")

    def __init__(self, recorded_at: datetime) -> None:
        self.recorded_at = recorded_at
        self.rows: list[dict[str, Any]] = []

    def add_tis(
        self,
        returned: Iterable[Sequence[Any]],
        *,
        kind: JournalKind = JournalKind.TRY_FINISHED,
        reason: str | None = None,
    ) -> None:
        """One row per task instance an update changed (its ``RETURNING`` :data:`TI_RETURNING` rows)."""
        for (
            ti_id,
            run_pk,
            dag_id,
            run_id,
            task_id,
            map_index,
            try_no,
            max_tries,
            state,
            error,
            retry,
            host,
        ) in returned:
            self.rows.append(
                {
                    "recorded_at": self.recorded_at,
                    "kind": kind.value,
                    "reason": reason,
                    "dag_id": dag_id,
                    "run_id": run_id,
                    "dag_run_id": run_pk,
                    "task_id": task_id,
                    "map_index": map_index,
                    "ti_id": ti_id,
                    "try_number": try_no,
                    "max_tries": max_tries,
                    "state": state,
                    "error": error_summary(error),
                    "next_retry_at": read_time(retry),
                    "hostname": host,
                }
            )

    def add_runs(self, returned: Iterable[Sequence[Any]], *, reason: str | None = None) -> None:
        """One ``run_finished`` row per run an update finished (its :data:`RUN_RETURNING` rows)."""
        for run_pk, dag_id, run_id, state in returned:
            self.rows.append(
                {
                    **dict.fromkeys(COLUMNS),
                    "recorded_at": self.recorded_at,
                    "kind": JournalKind.RUN_FINISHED.value,
                    "reason": reason,
                    "dag_id": dag_id,
                    "run_id": run_id,
                    "dag_run_id": run_pk,
                    "state": state,
                }
            )

    def relabel(self, dag_run_id: int, state: str, reason: str) -> None:
        """Give ``reason`` to the rows so far of tries of run ``dag_run_id`` that reached ``state``
        without one (a run timeout claims the skips decided in the same pass)."""
        for row in self.rows:
            if (
                row["dag_run_id"] == dag_run_id
                and row["kind"] == JournalKind.TRY_FINISHED.value
                and row["state"] == state
                and row["reason"] is None
            ):
                row["reason"] = reason

    def write(self, tx: Tx) -> int:
        """Insert the rows (the transaction's last statement, see the module doc); how many."""
        if not self.rows:
            return 0
        with tx.pipeline():
            if tx.dialect == POSTGRESQL:
                tx.execute(_LOCK)
            tx.execute_many(_INSERT, self.rows)
        written = len(self.rows)
        self.rows = []
        return written
