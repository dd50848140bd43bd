"""Task-instance and DAG-run states, with Airflow's names and meanings."""

from __future__ import annotations

from enum import StrEnum


class TaskInstanceState(StrEnum):
    """Where one try of one task in one run stands.

    ``NONE`` is the state of a task instance that exists but has not been
    looked at yet (Airflow stores it as SQL NULL; we store ``"none"``).
    """

    NONE = "none"
    SCHEDULED = "scheduled"
    QUEUED = "queued"
    RUNNING = "running"
    SUCCESS = "success"
    FAILED = "failed"
    UP_FOR_RETRY = "up_for_retry"
    #: A sensor in ``mode="reschedule"`` whose condition was not met: it holds no slot and is
    #: scheduled again once its ``reschedule_date`` (stored in ``next_retry_at``) passes; its
    #: try number does not change (Airflow's semantics).
    UP_FOR_RESCHEDULE = "up_for_reschedule"
    UPSTREAM_FAILED = "upstream_failed"
    SKIPPED = "skipped"
    REMOVED = "removed"

    @property
    def finished(self) -> bool:
        return self in FINISHED_STATES

    @property
    def unfinished(self) -> bool:
        return self not in FINISHED_STATES


#: States a task instance does not leave without a clear or a retry.
FINISHED_STATES = frozenset(
    {
        TaskInstanceState.SUCCESS,
        TaskInstanceState.FAILED,
        TaskInstanceState.UPSTREAM_FAILED,
        TaskInstanceState.SKIPPED,
        TaskInstanceState.REMOVED,
    }
)

#: States that hold an executor slot / pool slot.
OCCUPYING_STATES = frozenset({TaskInstanceState.QUEUED, TaskInstanceState.RUNNING})


#: States waiting for a time (``next_retry_at``) to pass before the scheduler schedules them again.
WAITING_STATES = frozenset({TaskInstanceState.UP_FOR_RETRY, TaskInstanceState.UP_FOR_RESCHEDULE})


class DagRunState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCESS = "success"
    FAILED = "failed"

    @property
    def finished(self) -> bool:
        return self in (DagRunState.SUCCESS, DagRunState.FAILED)


class DagRunType(StrEnum):
    """Why a run exists; its run_id starts with ``<type>__``."""

    SCHEDULED = "scheduled"
    MANUAL = "manual"
    BACKFILL = "backfill"

    def run_id(self, logical_date_iso: str) -> str:
        return f"{self.value}__{logical_date_iso}"
