"""A worker's finish as one statement: the try's end, the claim of the worker's next try, the journal row.

Issue 15 asks for at most 2 statements per task instance on the hot path. A worker's finish was
three: the guarded ``UPDATE`` of its try, the claim of the try it holds next (sent ahead,
:class:`~windvane.core.store.try_claim.ClaimNext`) and the journal's ``INSERT``. :func:`end_statement`
makes them one ``UPDATE`` over both rows:

* each row keeps its own guard: the finished try's is the *running guard* (``id``, ``state =
  'running'``, ``try_number``), the claimed try's the *queued guard* (``id``, ``state = 'queued'``,
  ``try_number``, ``queued_by_job_id``), joined by ``OR``; every ``SET`` is a ``CASE`` on the
  running guard (the old row's values), so a row gets the finish's values or the claim's, never a mix
  (even when both are the same task instance: a retry queued after the try was declared lost);
* ``RETURNING`` says which rows changed: the finished row comes back in its final state, the
  claimed one ``running`` with what the claim reads for the context
  (:func:`~windvane.core.store.try_claim.claim_returning`). A guard that no longer holds leaves its
  row alone: the finish is rejected, or the next try is not claimed, each on its own;
* with ``journaled`` the statement also sets ``journal_reason``, and migration 0010's trigger
  writes the ``try_finished`` journal row inside the same statement (its column values, ``reason``
  and ``recorded_at`` as the ``INSERT`` of :mod:`windvane.core.store.journal_sql` wrote them; on
  PostgreSQL the trigger takes the journal's advisory lock at the end of the statement, after its
  row locks). Only a finish that writes nothing else uses it (no XCom, no rendered fields, no
  skipped downstream, a first try): the journal lock must be the transaction's last lock, so a
  finish with more to write journals with the ``INSERT`` at its end, as before.

Without a next try the statement is the finish alone. A driver that counts statements sees one; the
trigger's insert runs inside it (docs/benchmarks.md, B5).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from windvane.core.model.states import DagRunState, TaskInstanceState
from windvane.core.model.workload import Workload
from windvane.core.store.journal_sql import TI_RETURNING
from windvane.core.store.raw_sql import Row, Sql
from windvane.core.store.try_claim import Claim, ClaimNext, claim_params, claim_returning, read_claim

_S = TaskInstanceState
_FINISHED = "id = :ti_id AND state = :running AND try_number = :try_number"
_CLAIMED = (
    "id = :next_ti_id AND state = :queued AND try_number = :next_try_number "
    "AND queued_by_job_id = :next_job_id"
)
#: Column -> (its value for the finished try, for the claimed one). ``{name}``: a parameter that may
#: be NULL, cast on PostgreSQL (inside a ``CASE`` a bare NULL parameter would be ``text``).
_COLUMNS = {
    "state": (":state", ":running"),
    "start_date": ("start_date", ":now"),
    "end_date": (":now", "NULL"),
    "duration": ("{duration}", "NULL"),
    "error": (":error", "NULL"),
    "next_retry_at": ("{retry_at}", "NULL"),
    "hostname": ("hostname", ":hostname"),
    "pid": ("pid", ":pid"),
    "last_heartbeat_at": ("last_heartbeat_at", ":now"),
    "updated_at": (":now", ":now"),
}
_JOURNALED = ("journal_reason", ("{reason}", "journal_reason"))
_PLAIN = {"duration": ":duration", "retry_at": ":retry_at", "reason": ":reason"}
_CAST = {
    "duration": "CAST(:duration AS DOUBLE PRECISION)",
    "retry_at": "CAST(:retry_at AS TIMESTAMP WITH TIME ZONE)",
    "reason": "CAST(:reason AS VARCHAR)",
}


@lru_cache(maxsize=32)
def end_statement(*, follower: bool, sensor: bool, journaled: bool) -> Sql:
    """The finish of one try (see the module doc); with ``follower`` also the claim of the next
    (``sensor``: a reschedule-mode sensor's claim, which reads its reschedules too); with
    ``journaled`` the trigger journals the finish. Its text for each dialect (PostgreSQL's casts a
    parameter that may be NULL inside a ``CASE``, where a bare NULL would be ``text``)."""
    columns = list(_COLUMNS.items())
    if journaled:
        columns.append(_JOURNALED)
    if not follower:
        sets = [f"{name} = {finished}" for name, (finished, _claimed) in columns if finished != name]
        where, returning = _FINISHED, list(TI_RETURNING)
    else:
        sets = [
            f"{name} = {finished}"
            if finished == claimed
            else f"{name} = CASE WHEN {_FINISHED} THEN {finished} ELSE {claimed} END"
            for name, (finished, claimed) in columns
        ]
        where = f"({_FINISHED}) OR ({_CLAIMED})"
        returning = [*TI_RETURNING] + [
            f"CASE WHEN state = :running THEN {found} END"
            for found in claim_returning(sensor=sensor, prefix="next_")
        ]
    text = f"UPDATE task_instance SET {', '.join(sets)} WHERE {where} RETURNING {', '.join(returning)}"
    return Sql(text.format(**_PLAIN), text.format(**_CAST))


def end_params(
    workload: Workload,
    *,
    state: TaskInstanceState,
    end: datetime,
    duration: float | None,
    error: str | None,
    retry_at: datetime | None,
    reason: str | None,
    then: ClaimNext | None,
) -> dict[str, Any]:
    """The parameters of :func:`end_statement` (``reason`` is read only when it is journaled)."""
    params: dict[str, Any] = {
        "ti_id": workload.ti_id,
        "try_number": workload.try_number,
        "running": _S.RUNNING.value,
        "state": state.value,
        "now": end,
        "duration": duration,
        "error": error,
        "retry_at": retry_at,
        "reason": reason,
    }
    if then is not None:
        params.update(claim_params(then.workload, then.first_try, prefix="next_"))
        params.update(
            queued=_S.QUEUED.value,
            hostname=then.hostname,
            pid=then.pid,
            success=DagRunState.SUCCESS.value,
        )
    return params


@dataclass(frozen=True, slots=True)
class EndRows:
    """What :func:`end_statement` changed: the finished row (:data:`TI_RETURNING`, for the journal),
    if the running guard held, and the next try's claim, if the queued guard did."""

    finished: tuple[Row, ...]
    claim: Claim | None


def read_end(rows: Sequence[Row], now: datetime) -> EndRows:
    """Split the rows :func:`end_statement` returned (the claimed row is the one ``running``)."""
    finished: list[Row] = []
    claim = None
    width = len(TI_RETURNING)
    for row in rows:
        if row[2] == _S.RUNNING.value:
            claim = read_claim(row[width:], now)
        else:
            finished.append(row[:width])
    return EndRows(tuple(finished), claim)
