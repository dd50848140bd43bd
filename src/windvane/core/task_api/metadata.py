"""The metadata database as a running task may see it: other DAGs' runs and task states, and
triggering a run (the port of cross-DAG sensors and operators).

Operators live on the authoring floor and may not import the store; they call the
:class:`RunMetadata` found on the running task instance (``context["ti"].metadata``). The worker
installs an implementation over the store's plain SQL
(:class:`windvane.core.worker.metadata.RawRunMetadata`); runners without a database leave
:class:`NoMetadata`, which says so.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from windvane.errors import StoreError


@dataclass(frozen=True, slots=True)
class TriggeredRun:
    """A run :meth:`RunTrigger.trigger_run` queued (``reset``: an existing run was cleared instead)."""

    dag_id: str
    run_id: str
    logical_date: datetime
    reset: bool = False


class RunStateReader(Protocol):
    """Reads the state of other DAGs' runs and task instances."""

    def dag_task_ids(self, dag_id: str) -> frozenset[str] | None:
        """The task ids of ``dag_id`` as last parsed, or None when no such DAG is stored."""

    def run_states(self, dag_id: str, logical_dates: Sequence[datetime]) -> list[tuple[datetime, str]]:
        """(logical date, state) of the runs of ``dag_id`` at ``logical_dates`` that exist."""

    def ti_states(
        self,
        dag_id: str,
        logical_dates: Sequence[datetime],
        *,
        task_ids: Sequence[str] | None = None,
        group_id: str | None = None,
    ) -> list[tuple[datetime, str, str]]:
        """(logical date, task id, state) of the task instances of ``dag_id``'s runs at
        ``logical_dates``: of ``task_ids``, or of the tasks in task group ``group_id``."""

    def run_state(self, dag_id: str, run_id: str) -> str | None:
        """The state of one run, or None when it does not exist."""


class RunTrigger(Protocol):
    """Queues runs of other DAGs."""

    def trigger_run(
        self,
        dag_id: str,
        *,
        run_id: str | None,
        logical_date: datetime | None,
        conf: Mapping[str, Any],
        reset: bool,
    ) -> TriggeredRun:
        """Queue a manual run of ``dag_id`` (``run_id`` default ``manual__<logical date>``, logical
        date default now). An existing run with that id is an error, unless ``reset``: then it is
        cleared to run again. A DAG that is not stored is an error naming it."""


class RunMetadata(RunStateReader, RunTrigger, Protocol):
    """Both ports: what ``ti.metadata`` offers."""


class NoMetadata:
    """A :class:`RunMetadata` for runners without a metadata database: every call says so."""

    def _none(self) -> StoreError:
        return StoreError("this task needs the metadata database, which this runner does not provide")

    def dag_task_ids(self, dag_id: str) -> frozenset[str] | None:
        raise self._none()

    def run_states(self, dag_id: str, logical_dates: Sequence[datetime]) -> list[tuple[datetime, str]]:
        raise self._none()

    def ti_states(
        self,
        dag_id: str,
        logical_dates: Sequence[datetime],
        *,
        task_ids: Sequence[str] | None = None,
        group_id: str | None = None,
    ) -> list[tuple[datetime, str, str]]:
        raise self._none()

    def run_state(self, dag_id: str, run_id: str) -> str | None:
        raise self._none()

    def trigger_run(
        self,
        dag_id: str,
        *,
        run_id: str | None,
        logical_date: datetime | None,
        conf: Mapping[str, Any],
        reset: bool,
    ) -> TriggeredRun:
        raise self._none()
