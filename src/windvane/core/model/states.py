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
