"""The serialized DAG: everything the scheduler needs, with no user code.

The DAG processor turns each parsed :class:`~windvane.core.authoring.dag.DAG` into a
:class:`SerializedDag` (plain JSON) and stores it; the scheduler works only
from these. Callables are reduced to "has a callback" flags; timetables go
through :mod:`windvane.core.timetables.serialization`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any, NamedTuple

import pendulum

from windvane.core.model import json_values as serde
from windvane.core.model.trigger_rule import TriggerRule

if TYPE_CHECKING:
    from windvane.core.timetables.base import DataInterval, Timetable

FORMAT_VERSION = 1
TASK_CALLBACKS = (
    "on_failure_callback",
    "on_success_callback",
    "on_retry_callback",
    "on_execute_callback",
    "on_skipped_callback",
)
DAG_CALLBACKS = ("on_failure_callback", "on_success_callback", "sla_miss_callback")


def seconds_or_none(value: timedelta | None) -> float | None:
    return None if value is None else value.total_seconds()


class NextRun(NamedTuple):
    """The ``next_dagrun_*`` columns of a DAG: all None when it has no next run."""

    logical_date: pendulum.DateTime | None
    interval_start: pendulum.DateTime | None
    interval_end: pendulum.DateTime | None
    create_after: pendulum.DateTime | None


@dataclass(frozen=True, slots=True)
class TaskSpec:
    """One task as the scheduler sees it. Durations are in seconds."""

    task_id: str
    operator: str
    upstream: tuple[str, ...]
    downstream: tuple[str, ...]
    trigger_rule: str = TriggerRule.ALL_SUCCESS.value
    pool: str = "default_pool"
    pool_slots: int = 1
    priority_weight: int = 1
    retries: int = 0
    retry_delay: float = 300.0
    retry_exponential_backoff: bool = False
    max_retry_delay: float | None = None
    execution_timeout: float | None = None
    depends_on_past: bool = False
    max_active_tis_per_dag: int | None = None
    queue: str = "default"
    sla: float | None = None
    owner: str = "windvane"
    email: tuple[str, ...] = ()
    email_on_failure: bool = True
    email_on_retry: bool = True
    is_noop: bool = False
    callbacks: tuple[str, ...] = ()
    task_group: str | None = None
    doc_md: str | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TaskSpec:
        values = dict(data)
        for key in ("upstream", "downstream", "email", "callbacks"):
            values[key] = tuple(values.get(key, ()))
        return cls(**values)

    @property
    def rule(self) -> TriggerRule:
        return TriggerRule(self.trigger_rule)


@dataclass(frozen=True)
class SerializedDag:
    """A DAG reduced to JSON-able data; built by :func:`windvane.core.authoring.serialize.serialize_dag`."""

    dag_id: str
    fileloc: str
    timetable: dict[str, Any]
    timezone: str
    tasks: dict[str, TaskSpec]
    start_date: str | None = None
    end_date: str | None = None
    catchup: bool = True
    max_active_runs: int = 16
    max_active_tasks: int = 16
    dagrun_timeout: float | None = None
    #: Seconds after a run's due time by which it must have succeeded (``DAG(deadline=...)``).
    deadline: float | None = None
    tags: tuple[str, ...] = ()
    params: dict[str, Any] = field(default_factory=dict)
    description: str | None = None
    doc_md: str | None = None
    is_paused_upon_creation: bool | None = None
    callbacks: tuple[str, ...] = ()
    owners: tuple[str, ...] = ()

    # -- conversions -----------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """A JSON-able copy (nothing in it is shared with this object)."""
        data = asdict(self)
        data["tasks"] = [asdict(t) for t in self.tasks.values()]
        data["__version"] = FORMAT_VERSION
        return data

    def to_json(self) -> str:
        """The stored form: :meth:`to_dict` as compact JSON with sorted keys (the DAG hash is
        that text's). Built without :meth:`to_dict`'s deep copy, which ``json.dumps`` does not
        need: that copy was a third of a parse child's CPU for a 10-task DAG."""
        try:
            return _DUMPS(self._plain())
        except TypeError:  # a value only asdict() makes JSON-able (a dataclass in a plug-in's timetable)
            return _DUMPS(self.to_dict())

    def _plain(self) -> dict[str, Any]:
        """:meth:`to_dict` sharing this object's values (tuples stay tuples: JSON arrays too)."""
        data = {name: getattr(self, name) for name in _DAG_FIELDS}
        data["tasks"] = [{name: getattr(t, name) for name in _TASK_FIELDS} for t in self.tasks.values()]
        data["__version"] = FORMAT_VERSION
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SerializedDag:
        values = {k: v for k, v in data.items() if k != "__version"}
        values["tasks"] = {t["task_id"]: TaskSpec.from_dict(t) for t in values["tasks"]}
        values["tags"] = tuple(values.get("tags", ()))
        values["callbacks"] = tuple(values.get("callbacks", ()))
        values["owners"] = tuple(values.get("owners", ()))
        return cls(**values)

    @classmethod
    def from_json(cls, text: str) -> SerializedDag:
        return cls.from_dict(json.loads(text))

    # -- derived views -----------------------------------------------------
    @cached_property
    def dag_hash(self) -> str:
        return hashlib.sha256(self.to_json().encode()).hexdigest()[:32]

    @cached_property
    def upstream_map(self) -> dict[str, tuple[str, ...]]:
        return {tid: t.upstream for tid, t in self.tasks.items()}

    @cached_property
    def rules(self) -> dict[str, TriggerRule]:
        return {tid: t.rule for tid, t in self.tasks.items()}

    @cached_property
    def timetable_obj(self) -> Timetable:
        from windvane.core.timetables.serialization import timetable_from_dict

        return timetable_from_dict(self.timetable)

    @cached_property
    def start(self) -> pendulum.DateTime | None:
        return _parse(self.start_date)

    @cached_property
    def end(self) -> pendulum.DateTime | None:
        return _parse(self.end_date)

    def next_run(self, last_interval: DataInterval | None, now: pendulum.DateTime) -> NextRun:
        """Where the DAG's next scheduled run stands after ``last_interval`` (None: it never ran)."""
        from windvane.core.timetables.ops import next_run_info

        info = next_run_info(
            self.timetable_obj,
            start_date=self.start,
            end_date=self.end,
            catchup=self.catchup,
            last_interval=last_interval,
            now=now,
        )
        if info is None:
            return NextRun(None, None, None, None)
        return NextRun(info.logical_date, info.data_interval.start, info.data_interval.end, info.run_after)

    @property
    def deserialized_params(self) -> dict[str, Any]:
        return dict(serde.from_jsonable(self.params))


_DAG_FIELDS = tuple(f.name for f in fields(SerializedDag))
_TASK_FIELDS = tuple(f.name for f in fields(TaskSpec))
_DUMPS = json.JSONEncoder(sort_keys=True, separators=(",", ":")).encode


def _parse(value: str | None) -> pendulum.DateTime | None:
    if value is None:
        return None
    parsed = pendulum.parse(value)
    assert isinstance(parsed, pendulum.DateTime)
    return parsed
