"""ExternalTaskSensor: wait for another DAG's task, task group or whole run at the same (or a
shifted) logical date (Airflow 2's ``ExternalTaskSensor``).

It reads the metadata database through ``context["ti"].metadata``
(:mod:`windvane.core.task_api.metadata`), never the store.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, ClassVar

from windvane.core.authoring import validation as v
from windvane.core.authoring.per_instance import PerInstance, keep
from windvane.core.authoring.sensors.base import BaseSensorOperator
from windvane.core.model.states import DagRunState, TaskInstanceState
from windvane.core.task_api.context import call_with_context
from windvane.core.task_api.metadata import RunStateReader
from windvane.errors import DagDefinitionError, ExternalTaskError, TaskSkipped

log = logging.getLogger("windvane.task")

TASK_STATES = frozenset(s.value for s in TaskInstanceState)
RUN_STATES = frozenset(s.value for s in DagRunState)


class ExternalTaskSensor(BaseSensorOperator):
    """Wait until ``external_task_id`` / ``external_task_ids`` / the tasks of
    ``external_task_group_id`` (or, with none of them, the whole run) of ``external_dag_id`` reached
    one of ``allowed_states`` at this run's logical date (shifted back by ``execution_delta``, or
    as ``execution_date_fn(logical_date, **context)`` returns: one date or a list).

    A state in ``failed_states`` fails the sensor (``ExternalTaskError``), one in
    ``skipped_states`` skips it. States are task-instance states when tasks are named, else DAG-run
    states. ``check_existence`` fails at the first poke if the DAG or its tasks are unknown.
    """

    template_fields: ClassVar[tuple[str, ...]] = (
        "external_dag_id",
        "external_task_id",
        "external_task_ids",
        "external_task_group_id",
    )
    ui_color: ClassVar[str] = "#4db7db"
    # Defaults on the class (a sensor stores what it changes); lists are made when first read.
    allowed_states: PerInstance[list[str]] = PerInstance(lambda: [TaskInstanceState.SUCCESS.value])
    skipped_states: PerInstance[list[str]] = PerInstance(list)
    failed_states: PerInstance[list[str]] = PerInstance(list)
    external_task_id: str | None = None
    external_task_ids: list[str] | None = None
    external_task_group_id: str | None = None
    execution_delta: timedelta | None = None
    execution_date_fn: Callable[..., Any] | None = None
    check_existence: bool = False
    _checked_existence: bool = False

    def __init__(
        self,
        *,
        external_dag_id: str,
        external_task_id: str | None = None,
        external_task_ids: Sequence[str] | None = None,
        external_task_group_id: str | None = None,
        allowed_states: Iterable[str] | None = None,
        skipped_states: Iterable[str] | None = None,
        failed_states: Iterable[str] | None = None,
        execution_delta: timedelta | None = None,
        execution_date_fn: Callable[..., Any] | None = None,
        check_existence: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        owner = v.owner_name(self.task_id, self.dag.dag_id if self.dag is not None else None)
        allowed = [str(s) for s in allowed_states or [TaskInstanceState.SUCCESS.value]]
        skipped = [str(s) for s in skipped_states or []]
        failed = [str(s) for s in failed_states or []]
        keep(self, "allowed_states", allowed)
        keep(self, "skipped_states", skipped)
        keep(self, "failed_states", failed)
        every = allowed + skipped + failed
        if len(set(every)) != len(every):
            raise DagDefinitionError(
                f"{owner}: a state appears more than once across allowed_states, skipped_states "
                "and failed_states"
            )
        ids = list(v.strings(external_task_ids, "external_task_ids", owner)) if external_task_ids else None
        if external_task_id is not None and ids is not None:
            raise DagDefinitionError(f"{owner}: give external_task_id or external_task_ids, not both")
        if external_task_id is not None:
            ids = [v.string(external_task_id, "external_task_id", owner)]
        if external_task_group_id is not None and ids is not None:
            raise DagDefinitionError(f"{owner}: give external_task_group_id or external task ids, not both")
        valid, kind = (TASK_STATES, "task") if ids or external_task_group_id else (RUN_STATES, "DAG run")
        unknown = sorted(set(every) - valid)
        if unknown:
            raise DagDefinitionError(
                f"{owner}: {', '.join(map(repr, unknown))} is not a {kind} state; allowed_states, "
                f"skipped_states and failed_states must be among {sorted(valid)}"
            )
        if execution_delta is not None and execution_date_fn is not None:
            raise DagDefinitionError(f"{owner}: give execution_delta or execution_date_fn, not both")
        if execution_delta is not None and not isinstance(execution_delta, timedelta):
            raise DagDefinitionError(f"{owner}: execution_delta must be a timedelta")
        if execution_date_fn is not None and not callable(execution_date_fn):
            raise DagDefinitionError(f"{owner}: execution_date_fn must be callable")
        self.external_dag_id = v.string(external_dag_id, "external_dag_id", owner)
        keep(self, "external_task_id", external_task_id)
        keep(self, "external_task_ids", ids)
        group_id = (
            None
            if external_task_group_id is None
            else v.string(external_task_group_id, "external_task_group_id", owner)
        )
        keep(self, "external_task_group_id", group_id)
        keep(self, "execution_delta", execution_delta)
        keep(self, "execution_date_fn", execution_date_fn)
        keep(self, "check_existence", v.flag(check_existence, "check_existence", owner))
        keep(self, "_checked_existence", False)

    # -- which runs ------------------------------------------------------
    def logical_dates(self, context: dict[str, Any]) -> list[datetime]:
        """The logical dates of the external runs to look at."""
        logical: datetime = context["logical_date"]
        if self.execution_delta is not None:
            found: Any = logical - self.execution_delta
        elif self.execution_date_fn is not None:
            found = call_with_context(self.execution_date_fn, [logical], {}, context)
        else:
            found = logical
        dates = list(found) if isinstance(found, list | tuple) else [found]
        for date in dates:
            if not isinstance(date, datetime) or date.tzinfo is None:
                raise ExternalTaskError(
                    f"ExternalTaskSensor {self.task_id!r}: execution_date_fn must return aware datetimes, "
                    f"got {date!r}"
                )
        return dates

    # -- the poke --------------------------------------------------------
    def poke(self, context: dict[str, Any]) -> bool:
        reader: RunStateReader = context["ti"].metadata
        dates = self.logical_dates(context)
        log.info(
            "Poking for %s in DAG %s on %s ...",
            self._what(),
            self.external_dag_id,
            ", ".join(d.isoformat() for d in dates),
        )
        if self.check_existence and not self._checked_existence:
            self._check_existence(reader)
        states = self._states(reader, dates)
        if self.failed_states and self._any_in(states, self.failed_states):
            raise ExternalTaskError(f"{self._what().capitalize()} in DAG {self.external_dag_id!r} failed")
        if self.skipped_states and self._any_in(states, self.skipped_states):
            raise TaskSkipped(
                f"{self._what().capitalize()} in DAG {self.external_dag_id!r} reached a state in "
                f"skipped_states {self.skipped_states}; skipping"
            )
        return self._all_in(states, dates, self.allowed_states)

    def _what(self) -> str:
        if self.external_task_ids:
            return f"task(s) {self.external_task_ids}"
        if self.external_task_group_id:
            return f"task group {self.external_task_group_id!r}"
        return "the run"

    def _states(self, reader: RunStateReader, dates: list[datetime]) -> dict[tuple[datetime, str], str]:
        """(logical date, task id or "" for the run) -> state."""
        if self.external_task_ids:
            rows = reader.ti_states(self.external_dag_id, dates, task_ids=self.external_task_ids)
        elif self.external_task_group_id:
            rows = reader.ti_states(self.external_dag_id, dates, group_id=self.external_task_group_id)
        else:
            return {(date, ""): state for date, state in reader.run_states(self.external_dag_id, dates)}
        return {(date, task_id): state for date, task_id, state in rows}

    @staticmethod
    def _any_in(states: dict[tuple[datetime, str], str], wanted: list[str]) -> bool:
        return any(state in wanted for state in states.values())

    def _all_in(
        self, states: dict[tuple[datetime, str], str], dates: list[datetime], wanted: list[str]
    ) -> bool:
        """Every wanted (date, task) is in ``wanted``: the named tasks, the group's tasks (at least
        one), or the run."""
        if self.external_task_ids:
            keys = [(d, t) for d in dates for t in self.external_task_ids]
        elif self.external_task_group_id:
            by_date = {d: [k for k in states if k[0] == d] for d in dates}
            if not all(by_date.values()):
                return False
            keys = [k for found in by_date.values() for k in found]
        else:
            keys = [(d, "") for d in dates]
        return all(states.get(k) in wanted for k in keys)

    def _check_existence(self, reader: RunStateReader) -> None:
        tasks = reader.dag_task_ids(self.external_dag_id)
        if tasks is None:
            raise ExternalTaskError(f"The external DAG {self.external_dag_id!r} does not exist")
        for task_id in self.external_task_ids or []:
            if task_id not in tasks:
                raise ExternalTaskError(
                    f"The external task {task_id!r} in DAG {self.external_dag_id!r} does not exist"
                )
        group = self.external_task_group_id
        if group is not None and not any(t.startswith(f"{group}.") for t in tasks):
            raise ExternalTaskError(
                f"The external task group {group!r} in DAG {self.external_dag_id!r} does not exist"
            )
        self._checked_existence = True
