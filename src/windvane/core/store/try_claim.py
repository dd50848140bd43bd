"""Claiming a try: ``queued -> running`` under the queued guard, and what its context needs.

Part of the try's statements (:mod:`windvane.core.store.try_lifecycle` holds the others and their
guards): :func:`claim_try` as a transaction of its own, :class:`ClaimNext` inside the transaction
that finishes the worker's previous try (issue 15: one commit for both; in the finish's own
``UPDATE``, :mod:`windvane.core.store.try_finish_sql`, unless the finish reschedules a sensor).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from windvane.core.model.states import DagRunState, TaskInstanceState
from windvane.core.model.workload import Workload
from windvane.core.store.raw import RawDb
from windvane.core.store.raw_sql import Sql, Tx, read_time

_S = TaskInstanceState
#: A queued try still ours: the claim's guard.
_QUEUED_GUARD = "id = :ti_id AND state = :queued AND try_number = :try_number AND queued_by_job_id = :job_id"
#: The claim, and what the context needs: the run's start and the data interval of the DAG's
#: latest successful run before this one. One statement: one round trip, one row iff claimed.
_PREVIOUS_SUCCESS = (
    "SELECT p.{column} FROM dag_run p WHERE p.dag_id = :{prefix}dag_id AND p.state = :success "
    "AND p.logical_date < (SELECT r.logical_date FROM dag_run r WHERE r.id = :{prefix}dag_run_id) "
    "ORDER BY p.logical_date DESC LIMIT 1"
)
#: What a reschedule-mode sensor's claim also reads: when it first poked since its last clear, and
#: how many times it was rescheduled since (tries from ``:first_try`` on).
_RESCHEDULES = (
    "FROM task_reschedule tr WHERE tr.ti_id = :{prefix}ti_id AND tr.try_number >= :{prefix}first_try"
)


def claim_returning(*, sensor: bool, prefix: str = "") -> tuple[str, ...]:
    """The expressions a claim returns (read by :func:`read_claim`), over parameters named
    ``prefix`` + ``dag_id``, ``dag_run_id``, ``ti_id``, ``first_try`` (see :func:`claim_params`)."""
    found = (
        f"(SELECT r.start_date FROM dag_run r WHERE r.id = :{prefix}dag_run_id)",
        f"({_PREVIOUS_SUCCESS.format(column='data_interval_start', prefix=prefix)})",
        f"({_PREVIOUS_SUCCESS.format(column='data_interval_end', prefix=prefix)})",
    )
    if not sensor:
        return found
    reschedules = _RESCHEDULES.format(prefix=prefix)
    return (*found, f"(SELECT MIN(tr.start_date) {reschedules})", f"(SELECT COUNT(*) {reschedules})")


_CLAIM_SET = (
    "UPDATE task_instance SET state = :running, start_date = :now, end_date = NULL, duration = NULL, "
    "hostname = :hostname, pid = :pid, last_heartbeat_at = :now, updated_at = :now, error = NULL, "
    f"next_retry_at = NULL WHERE {_QUEUED_GUARD} RETURNING "
)
_CLAIM = Sql(_CLAIM_SET + ", ".join(claim_returning(sensor=False)))
_CLAIM_SENSOR = Sql(_CLAIM_SET + ", ".join(claim_returning(sensor=True)))


@dataclass(frozen=True, slots=True)
class Claim:
    """A claimed try: when it started and what the context needs from the database."""

    start_date: datetime
    run_start_date: datetime | None
    prev_data_interval_start_success: datetime | None
    prev_data_interval_end_success: datetime | None
    #: For a reschedule-mode sensor: its first reschedule's start since the last clear, and how
    #: many reschedules since.
    first_poke_at: datetime | None = None
    reschedule_count: int = 0


def claim_try(
    db: RawDb, workload: Workload, *, hostname: str, pid: int, first_try: int | None = None
) -> Claim | None:
    """Move the try from ``queued`` to ``running`` if it is still ours; None if it is not.

    With ``first_try`` (a reschedule-mode sensor: the first try number since its last clear) the
    claim also reads its reschedules since that try."""
    now = now_utc()
    sql, params = _claim_statement(workload, hostname=hostname, pid=pid, first_try=first_try, now=now)
    return _read_claim(db.write_one(sql, params), now)


def _claim_statement(
    workload: Workload, *, hostname: str, pid: int, first_try: int | None, now: datetime
) -> tuple[Sql, dict[str, Any]]:
    params = {
        "running": _S.RUNNING.value,
        "queued": _S.QUEUED.value,
        "now": now,
        "hostname": hostname,
        "pid": pid,
        "success": DagRunState.SUCCESS.value,
        **claim_params(workload, first_try),
    }
    return (_CLAIM if first_try is None else _CLAIM_SENSOR), params


def claim_params(workload: Workload, first_try: int | None, *, prefix: str = "") -> dict[str, Any]:
    """The parameters naming the try ``workload`` in its claim's guard (:data:`_QUEUED_GUARD`) and
    :func:`claim_returning` (``first_try`` only for a sensor)."""
    params = {
        "ti_id": workload.ti_id,
        "try_number": workload.try_number,
        "job_id": workload.job_id,
        "dag_id": workload.dag_id,
        "dag_run_id": workload.dag_run_id,
    }
    if first_try is not None:
        params["first_try"] = first_try
    return {prefix + name: value for name, value in params.items()}


def _read_claim(rows: Sequence[Sequence[Any]], now: datetime) -> Claim | None:
    return read_claim(rows[0], now) if rows else None


def read_claim(found: Sequence[Any], now: datetime) -> Claim:
    """The :class:`Claim` of a try claimed at ``now`` from the values of :func:`claim_returning`."""
    if len(found) == 3:
        run_start, prev_start, prev_end = found
        return Claim(now, read_time(run_start), read_time(prev_start), read_time(prev_end))
    run_start, prev_start, prev_end, first_poke, reschedules = found
    return Claim(
        now,
        read_time(run_start),
        read_time(prev_start),
        read_time(prev_end),
        read_time(first_poke),
        int(reschedules or 0),
    )


_UNCLAIM = Sql(
    "UPDATE task_instance SET state = :queued, start_date = NULL, hostname = NULL, pid = NULL, "
    "last_heartbeat_at = NULL, updated_at = :now WHERE id = :ti_id AND state = :running "
    "AND try_number = :try_number AND queued_by_job_id = :job_id AND pid = :pid RETURNING id"
)


def unclaim_try(db: RawDb, workload: Workload, *, pid: int) -> bool:
    """Give back a try this worker process (``pid``) claimed but never started: ``running ->
    queued`` again, as it was queued (same try number and queuing job), so another worker's claim
    takes it. False when the row was not so (nothing written)."""
    params = {
        "ti_id": workload.ti_id,
        "queued": _S.QUEUED.value,
        "running": _S.RUNNING.value,
        "try_number": workload.try_number,
        "job_id": workload.job_id,
        "pid": pid,
        "now": now_utc(),
    }
    return bool(db.write_one(_UNCLAIM, params))


@dataclass(slots=True)
class ClaimNext:
    """The worker's next try, claimed in the transaction that finishes its current one (one
    commit for both; the claim's queued guard as in :func:`claim_try`). :attr:`claim` is set
    by :func:`finish_try`: the :class:`Claim`, or None when the try was no longer ours."""

    workload: Workload
    hostname: str
    pid: int
    first_try: int | None = None
    claim: Claim | None = None
    #: Whether the claim ran (a finish that raised did not).
    tried: bool = False

    def run(self, tx: Tx) -> None:
        """Claim the try in ``tx`` (before the journal insert: see :mod:`journal_sql`)."""
        now = now_utc()
        sql, params = _claim_statement(
            self.workload, hostname=self.hostname, pid=self.pid, first_try=self.first_try, now=now
        )
        self.claim = _read_claim(tx.rows(sql, params), now)
        self.tried = True


def now_utc() -> datetime:
    return datetime.now(UTC)
