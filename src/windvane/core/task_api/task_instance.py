"""The ``ti`` a running task sees: identity, XCom push/pull and skip requests.

It does no I/O itself: pushes are serialized (so a bad value fails the task
that produced it, naming it) and collected for the runner to store; pulls go
through an injected :class:`XComReader`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from windvane.core.model import json_values as serde
from windvane.core.task_api.metadata import NoMetadata, RunMetadata

XCOM_RETURN_KEY = "return_value"


class XComReader(Protocol):
    """Reads stored XCom values (serialized JSON text) of one DAG run."""

    def get(self, *, dag_id: str, run_id: str, task_id: str, key: str) -> str | None:
        """The stored JSON text, or None when there is none."""


class NoXComs:
    """An :class:`XComReader` that has nothing (tests, first tasks)."""

    def get(self, *, dag_id: str, run_id: str, task_id: str, key: str) -> str | None:
        return None


@dataclass
class RuntimeTaskInstance:
    dag_id: str
    task_id: str
    run_id: str
    try_number: int = 1
    max_tries: int = 0
    map_index: int = -1
    hostname: str = ""
    reader: XComReader = field(default_factory=NoXComs)
    #: key -> serialized JSON text pushed by this try.
    pushed: dict[str, str] = field(default_factory=dict)
    #: Downstream task ids this try asked to skip (branching, short-circuit).
    skip_task_ids: set[str] = field(default_factory=set)
    #: A reschedule-mode sensor: when it first poked since its last clear (None: this is the first
    #: poke), and how many times it was rescheduled since.
    first_poke_at: datetime | None = None
    reschedule_count: int = 0
    #: What a sensor did in this try (reported with the outcome, counted by metrics).
    sensor_pokes: int = 0
    sensor_timed_out: bool = False
    #: The metadata database as a task may see it (cross-DAG sensors and operators).
    metadata: RunMetadata = field(default_factory=NoMetadata)

    def xcom_push(self, key: str, value: Any) -> None:
        """Store ``value`` under ``key`` for this task instance (JSON, see
        :mod:`windvane.core.model.json_values`)."""
        self.pushed[key] = serde.serialize(value, context=self._owner())

    def xcom_pull(
        self,
        task_ids: str | Iterable[str] | None = None,
        key: str = XCOM_RETURN_KEY,
        dag_id: str | None = None,
        run_id: str | None = None,
        default: Any = None,
    ) -> Any:
        """Value(s) pushed in this run: one value for a task id, a list for several."""
        if task_ids is None:
            task_ids = self.task_id
        if isinstance(task_ids, str):
            return self._pull_one(task_ids, key, dag_id, run_id, default)
        return [self._pull_one(t, key, dag_id, run_id, default) for t in task_ids]

    def _pull_one(self, task_id: str, key: str, dag_id: str | None, run_id: str | None, default: Any) -> Any:
        dag_id = dag_id or self.dag_id
        run_id = run_id or self.run_id
        if (task_id, dag_id, run_id) == (self.task_id, self.dag_id, self.run_id) and key in self.pushed:
            return serde.deserialize(self.pushed[key])
        text = self.reader.get(dag_id=dag_id, run_id=run_id, task_id=task_id, key=key)
        return default if text is None else serde.deserialize(text)

    def skip(self, task_ids: Iterable[str]) -> None:
        """Ask the runner to mark ``task_ids`` (downstream of this task) as skipped."""
        self.skip_task_ids.update(task_ids)

    def _owner(self) -> str:
        return f"task {self.task_id!r} in DAG {self.dag_id!r}"

    def __repr__(self) -> str:
        return f"<TaskInstance: {self.dag_id}.{self.task_id} {self.run_id} [try {self.try_number}]>"
