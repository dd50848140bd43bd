"""Writing the state-change journal: the one ``INSERT`` every write site runs, on any DBAPI connection.

The ``state_journal`` table records, in the same transaction as the change,
every state change that matters to someone not watching at the time (see
docs/runtime.md, "The state-change journal"): a try finishing in any state,
a run finishing, a task instance cleared. Writers collect the rows of one
transaction in a :class:`JournalBatch` (fed by the ``RETURNING`` rows of their
guarded updates, so an update that changed nothing journals nothing) and
:meth:`JournalBatch.write` them as the transaction's **last** statement: one
``INSERT ... SELECT`` per kind of change copies the changed rows' names,
state, try numbers and error summary (the data never travels to the client
and back; one statement for many rows).

Ids must grow in commit order, or a reader that has passed id *n* would miss
an *n - 1* committed later. SQLite has one writer at a time, so they do; on
PostgreSQL the insert itself first takes a transaction-level advisory lock
(in a ``WITH``: no extra round trip), held to the commit. Taking it last
(after every row lock of the transaction) means a transaction holding it
never waits for another: no deadlock.

One writer does not use the ``INSERT``: a worker's finish that writes nothing but its row sets
``task_instance.journal_reason`` and migration 0010's trigger writes the same row inside that one
statement (:mod:`windvane.core.store.try_finish_sql`; the trigger keeps its own copy of the
columns, the error cut and :data:`LOCK_KEY`: a change here needs a migration there).

This module is the statements' single source; workers run it on a
:class:`~windvane.core.store.raw.RawDb` (it imports no SQLAlchemy), the
scheduler and the CLI on the DBAPI connection under SQLAlchemy's.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from enum import StrEnum
from functools import lru_cache
from typing import Any

from windvane.core.store.raw_sql import Sql, Tx, ids_params, match_ids


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
    #: The try's process ended without reporting (a signal, the OOM killer, ``os._exit``, a kill past
    #: ``execution_timeout``): the worker recorded the failure, the try's own callbacks never ran.
    TASK_KILLED = "task_killed"
    #: The worker's claim of the queued try failed on an error retrying cannot cure: it failed the
    #: try without running it (:mod:`windvane.core.store.try_unclaimed`).
    CLAIM_FAILED = "claim_failed"
    #: The try stayed queued longer than ``task_queued_timeout_seconds``: the scheduler failed it.
    QUEUED_TIMEOUT = "queued_timeout"


#: The task-instance states whose arrival is journaled (``removed`` is not: no try ended).
JOURNALED_TI_STATES = frozenset({"success", "failed", "up_for_retry", "skipped", "upstream_failed"})
#: The longest ``error`` kept: the end of the text, where a traceback names the failure.
ERROR_LIMIT = 4000
#: What a task-instance update returns for its journal rows, in this order (see :meth:`JournalBatch.add_tis`).
TI_RETURNING = ("id", "dag_run_id", "state")
TI_RETURNING_SQL = "RETURNING " + ", ".join(TI_RETURNING)
#: What a run update returns for its journal row (see :meth:`JournalBatch.add_runs`).
RUN_RETURNING = ("id", "state")
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
#: The end of the error text, cut as :func:`error_summary` cuts it (in both dialects' SQL).
_ERROR_SUMMARY = (
    f"CASE WHEN length(error) > {ERROR_LIMIT} THEN '...' || substr(error, length(error) - {ERROR_LIMIT - 4}) "
    "ELSE error END"
)
#: The journal insert: one statement per batch of rows that changed, copying them as they are now (the
#: rows came from the transaction's own guarded updates; ``state`` is re-checked). On PostgreSQL it
#: takes the advisory lock before it takes an id (see the module doc).
_INSERT = (
    f"{{lock}}INSERT INTO state_journal ({', '.join(COLUMNS)}) SELECT :recorded_at, :kind, :reason, "
    "{values} FROM {table}{locked} WHERE id {ids} AND state = :state"
)
_TI_VALUES = (
    "dag_id, run_id, dag_run_id, task_id, map_index, id, try_number, max_tries, state, "
    f"{_ERROR_SUMMARY}, next_retry_at, hostname"
)
_RUN_VALUES = "dag_id, run_id, id, NULL, NULL, NULL, NULL, NULL, state, NULL, NULL, NULL"
_SOURCES = {"task_instance": _TI_VALUES, "dag_run": _RUN_VALUES}
#: Ids per insert statement.
CHUNK = 500
#: PostgreSQL advisory lock key serializing journal inserts ("wvjourn" in ASCII).
LOCK_KEY = 0x77766A6F75726E
_LOCK = f"WITH journal_lock AS (SELECT pg_advisory_xact_lock({LOCK_KEY})) "


def error_summary(error: str | None) -> str | None:
    """``error`` cut to its last :data:`ERROR_LIMIT` characters, as the journal stores it."""
    if error is None or len(error) <= ERROR_LIMIT:
        return error
    return "..." + error[-(ERROR_LIMIT - 3) :]


@lru_cache(maxsize=256)
def insert_sql(table: str, count: int) -> Sql:
    """The journal insert of ``count`` rows of ``table`` (``task_instance`` or ``dag_run``)."""
    values = _SOURCES[table]
    plain = _INSERT.format(lock="", values=values, table=table, locked="", ids="{ids}")
    locked = _INSERT.format(lock=_LOCK, values=values, table=table, locked=", journal_lock", ids="{ids}")
    return match_ids(plain, count, postgresql=locked)


class JournalBatch:
    """The journal rows of one transaction, all stamped ``recorded_at``; see the module doc.

    Rows are kept as (table, kind, reason, state) -> row ids until :meth:`write`.
    """

    __slots__ = ("_groups", "recorded_at")

    def __init__(self, recorded_at: datetime) -> None:
        self.recorded_at = recorded_at
        self._groups: dict[tuple[str, str, str | None, str], dict[int, int]] = {}

    def __len__(self) -> int:
        return sum(len(ids) for ids in self._groups.values())

    def add_tis(
        self,
        returned: Iterable[Sequence[Any]],
        *,
        kind: JournalKind = JournalKind.TRY_FINISHED,
        reason: str | None = None,
    ) -> None:
        """One row per task instance an update changed (its ``RETURNING`` :data:`TI_RETURNING` rows)."""
        for ti_id, run_pk, state in returned:
            self._groups.setdefault(("task_instance", kind.value, reason, state), {})[ti_id] = run_pk

    def add_runs(self, returned: Iterable[Sequence[Any]], *, reason: str | None = None) -> None:
        """One ``run_finished`` row per run an update finished (its :data:`RUN_RETURNING` rows)."""
        for run_pk, state in returned:
            self._groups.setdefault(("dag_run", JournalKind.RUN_FINISHED.value, reason, state), {})[
                run_pk
            ] = run_pk

    def relabel(self, dag_run_id: int, state: str, reason: str) -> None:
        """Give ``reason`` to the rows so far of tries of run ``dag_run_id`` that reached ``state``
        without one (a run timeout claims the skips decided in the same pass)."""
        source = ("task_instance", JournalKind.TRY_FINISHED.value, None, state)
        rows = self._groups.get(source, {})
        moved = {ti_id: run_pk for ti_id, run_pk in rows.items() if run_pk == dag_run_id}
        if moved:
            for ti_id in moved:
                del rows[ti_id]
            self._groups.setdefault((source[0], source[1], reason, state), {}).update(moved)

    def write(self, tx: Tx) -> None:
        """Insert the rows: the transaction's last statements (see the module doc), one per kind of
        change and :data:`CHUNK` rows; a caller may run them in :meth:`Tx.pipeline`."""
        groups = [(key, list(ids)) for key, ids in self._groups.items() if ids]
        self._groups = {}
        for (table, kind, reason, state), ids in groups:
            common = {"recorded_at": self.recorded_at, "kind": kind, "reason": reason, "state": state}
            for start in range(0, len(ids), CHUNK):
                chunk = ids[start : start + CHUNK]
                tx.execute(insert_sql(table, len(chunk)), {**common, **ids_params(chunk, tx.dialect)})
