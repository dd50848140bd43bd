"""The values of "why isn't this task running?": the facts it is decided from, and the answer.

:class:`TiFacts` is everything the scheduler's readiness looks at for one task
instance (read from the database by :mod:`windvane.core.store.why`); the
answer is an :class:`Explanation`: a verdict and the reasons that block the
task instance, each with a stable code, a sentence and JSON-able details.
:func:`windvane.core.model.why.explain` turns the one into the other.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from windvane.core.model.serialized_dag import SerializedDag, TaskSpec
from windvane.core.model.states import DagRunState
from windvane.core.model.states import TaskInstanceState as S


class WhyCode(StrEnum):
    """What holds a task instance back (stable: tools and the UI key on these)."""

    ALREADY_DONE = "already_done"
    ALREADY_RUNNING = "already_running"
    QUEUED_WAITING_FOR_EXECUTOR = "queued_waiting_for_executor"
    SCHEDULER_NOT_HEARTBEATING = "scheduler_not_heartbeating"
    RUN_NOT_RUNNING = "run_not_running"
    MAX_ACTIVE_RUNS = "max_active_runs"
    UPSTREAM_NOT_DONE = "upstream_not_done"
    TRIGGER_RULE_UNMET = "trigger_rule_unmet"
    RETRY_WAIT = "retry_wait"
    RESCHEDULE_WAIT = "reschedule_wait"
    DEPENDS_ON_PAST = "depends_on_past"
    DAG_PAUSED = "dag_paused"
    MAX_ACTIVE_TASKS = "max_active_tasks"
    POOL_MISSING = "pool_missing"
    POOL_FULL = "pool_full"
    MAX_ACTIVE_TIS_PER_DAG = "max_active_tis_per_dag"
    EXECUTOR_FULL = "executor_full"


class Verdict(StrEnum):
    """Where the task instance stands, in one word."""

    #: Nothing holds it back: the scheduler queues it at its next pass (by priority, if slots are short).
    READY = "ready"
    #: It waits; the reasons say for what.
    WAITING = "waiting"
    #: It will not run unless someone acts (a trigger rule that cannot be met, a finished run).
    WILL_NOT_RUN = "will_not_run"
    QUEUED = "queued"
    RUNNING = "running"
    FINISHED = "finished"


#: Holders of a pool named in an explanation; a pool of thousands of slots is summed, not listed.
MAX_HOLDERS = 20


@dataclass(frozen=True, slots=True)
class PoolHolder:
    """A queued or running try holding slots of a pool."""

    dag_id: str
    run_id: str
    task_id: str
    state: str
    pool_slots: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "dag_id": self.dag_id,
            "run_id": self.run_id,
            "task_id": self.task_id,
            "state": self.state,
            "pool_slots": self.pool_slots,
        }


@dataclass(frozen=True, slots=True)
class PoolFacts:
    """A pool's size (None: no such pool), the slots its queued + running tries take, and who they are
    (the first :data:`MAX_HOLDERS` of ``holders_total``)."""

    name: str
    capacity: int | None
    used: int
    holders: tuple[PoolHolder, ...] = ()
    holders_total: int = 0


@dataclass(frozen=True)
class TiFacts:
    """Everything readiness looks at for one task instance, as read at ``now``.

    Counts are of queued + running tries, the occupancy the scheduler's limits are
    checked against. ``previous_state`` is the task's state in the DAG's latest
    earlier run (None: there is none), for ``depends_on_past``.
    """

    dag: SerializedDag
    task_id: str
    run_id: str
    run_state: DagRunState
    state: S
    try_number: int
    max_tries: int
    upstream_states: Mapping[str, S]
    is_paused: bool
    active_runs: int
    dag_active_tis: int
    task_active_tis: int
    pool: PoolFacts
    now: datetime
    scheduler_heartbeat_age: float | None
    scheduler_threshold: float
    previous_state: S | None = None
    previous_run_id: str | None = None
    next_retry_at: datetime | None = None
    queued_at: datetime | None = None
    executor_open_slots: int | None = None

    @property
    def spec(self) -> TaskSpec:
        return self.dag.tasks[self.task_id]


@dataclass(frozen=True, slots=True)
class Reason:
    """One thing holding the task instance back."""

    code: WhyCode
    message: str
    details: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code.value, "message": self.message, "details": dict(self.details)}


@dataclass(frozen=True, slots=True)
class Explanation:
    """The answer for one task instance: its verdict and every reason, the most pressing first."""

    dag_id: str
    task_id: str
    run_id: str
    state: str
    verdict: Verdict
    reasons: tuple[Reason, ...]

    @property
    def ready(self) -> bool:
        """True exactly when the scheduler's readiness lets it be queued now."""
        return self.verdict is Verdict.READY

    @property
    def summary(self) -> str:
        """One sentence: the first reason, or that it is ready."""
        if self.reasons:
            return self.reasons[0].message
        return "Ready: nothing holds it back; the scheduler queues it at its next pass."

    def codes(self) -> list[str]:
        return [r.code.value for r in self.reasons]

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (``windvane tasks why --json`` and the API)."""
        return {
            "dag_id": self.dag_id,
            "task_id": self.task_id,
            "run_id": self.run_id,
            "state": self.state,
            "verdict": self.verdict.value,
            "ready": self.ready,
            "summary": self.summary,
            "reasons": [r.to_dict() for r in self.reasons],
        }
