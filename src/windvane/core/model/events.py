"""Lifecycle events: frozen, serialisable facts about runs and tries, as the scheduler saw them happen.

Observers (metrics, alerting, the journal's readers) receive these values, never
the scheduler's mutable records. Each carries who it is about (a
:class:`~windvane.core.model.workload.TaskInstanceKey` for a try, the run's
identity for a run), the states involved, timestamps (aware UTC datetimes) and
the few bounded facts consumers need (pool, operator, error summary...).

``to_dict()`` gives a JSON-friendly dict (datetimes as ISO 8601 strings, states
as their values, the key as a dict) tagged with ``"event": <class name>``;
:meth:`LifecycleEvent.from_dict` reads one back (on the base class it picks the
type from the tag). ``from_dict(to_dict(e)) == e`` for every event.

Events:

* :class:`RunCreated` — the scheduler created a scheduled run;
* :class:`RunFinished` — a run reached success or failed (``timed_out``: by ``dagrun_timeout``);
* :class:`TryScheduled` — a task instance's dependencies are met: it is ready to queue;
* :class:`TryQueued` — a try was committed as queued and handed to the executor;
* :class:`TryStarted` — a worker claimed the try and started it;
* :class:`TryFinished` — a try reached a final state, or ``up_for_retry``;
* :class:`TryRescheduled` — a reschedule-mode sensor's try ended ``up_for_reschedule``: it waits,
  holding no slot, until ``reschedule_at``;
* :class:`TryLost` — a try ended without its outcome being recorded: its claim failed or its row was
  changed elsewhere while it ran (Airflow's "killed externally");
* :class:`TryZombie` — a running try stopped heartbeating and the scheduler failed (or retried) it.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, TypeVar

from windvane.core.model.callback_runs import CallbackRun, runs_from_json, runs_to_json
from windvane.core.model.states import DagRunState, TaskInstanceState
from windvane.core.model.workload import TaskInstanceKey

E = TypeVar("E", bound="LifecycleEvent")
_Codec = tuple[str, Callable[[Any], Any], Callable[[Any], Any]]


def micros(ts: float) -> int:
    """Unix seconds ``ts`` in whole microseconds, rounded as an event's datetime holds it.

    ``datetime.fromtimestamp(ts, UTC).timestamp() == micros(ts) / 1e6`` and a difference of
    two such datetimes is ``(micros(a) - micros(b)) / 1e6`` seconds, exactly: what a lean
    observer (:attr:`~windvane.core.scheduler.observer.SchedulerObserver.lean_hooks`) uses to
    get the very values the typed events would have given.
    """
    frac, whole = math.modf(ts)
    return int(whole) * 1_000_000 + round(frac * 1e6)


class LifecycleEvent:
    """Base of the event types: serialisation to and from JSON-friendly dicts."""

    __slots__ = ()
    _codecs: ClassVar[tuple[_Codec, ...]] = ()

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"event": type(self).__name__}
        for name, encode, _ in type(self)._codecs:
            out[name] = encode(getattr(self, name))
        return out

    @classmethod
    def from_dict(cls: type[E], data: Mapping[str, Any]) -> E:
        """The event ``data`` describes (see :meth:`to_dict`); on the base class, of the type it names."""
        name = data.get("event")
        target = EVENT_TYPES.get(name) if isinstance(name, str) else None
        if target is None or not issubclass(target, cls):
            raise ValueError(f"not a {cls.__name__} event: {name!r}")
        # A field with a default may be missing (a dict written before the field existed).
        values = {field: decode(data[field]) for field, _, decode in target._codecs if field in data}
        return target(**values)


# -- runs ---------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class RunCreated(LifecycleEvent):
    """The scheduler created a scheduled run (``at``); ``due_at``: when it fell due (its ``run_after``)."""

    dag_id: str
    run_id: str
    dag_run_id: int
    run_type: str
    logical_date: datetime
    at: datetime
    due_at: datetime | None


@dataclass(frozen=True, slots=True)
class RunFinished(LifecycleEvent):
    """A run reached its final ``state`` (``timed_out``: failed by its ``dagrun_timeout``)."""

    dag_id: str
    run_id: str
    dag_run_id: int
    run_type: str
    logical_date: datetime
    state: DagRunState
    started_at: datetime
    finished_at: datetime
    timed_out: bool = False

    @property
    def duration(self) -> float:
        """Seconds from the run's start to its end."""
        return (self.finished_at - self.started_at).total_seconds()


# -- tries --------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class TryScheduled(LifecycleEvent):
    """The task instance is ready to queue (``at``); ``try_number`` is the try it will be."""

    key: TaskInstanceKey
    try_number: int
    max_tries: int
    pool: str
    operator: str
    at: datetime


@dataclass(frozen=True, slots=True)
class TryQueued(LifecycleEvent):
    """A try was committed as queued and handed to the executor.

    ``first_of_run``: it is the first try ever queued in its run (which started at ``run_started_at``).
    """

    key: TaskInstanceKey
    try_number: int
    max_tries: int
    pool: str
    operator: str
    queue: str
    queued_at: datetime
    run_type: str
    run_started_at: datetime
    first_of_run: bool


@dataclass(frozen=True, slots=True)
class TryStarted(LifecycleEvent):
    """A worker claimed the try and started it (``started_at``, the worker's time)."""

    key: TaskInstanceKey
    try_number: int
    max_tries: int
    pool: str
    operator: str
    started_at: datetime
    queued_at: datetime | None


@dataclass(frozen=True, slots=True)
class TryFinished(LifecycleEvent):
    """A try reached ``state`` (success, failed, skipped or up_for_retry), as its worker wrote it.

    ``started_at`` is None when no start was seen (an executor that reports only the end).
    ``next_retry_at`` is set for ``up_for_retry``; ``error`` summarises a failure.
    ``callbacks``: the task callbacks the try ran in its own process, and how each went.
    """

    key: TaskInstanceKey
    try_number: int
    max_tries: int
    pool: str
    operator: str
    state: TaskInstanceState
    finished_at: datetime
    started_at: datetime | None
    error: str | None
    next_retry_at: datetime | None
    callbacks: tuple[CallbackRun, ...] = ()
    #: A sensor's pokes in this try, and whether it ended by its ``timeout``.
    sensor_pokes: int = 0
    sensor_timeout: bool = False

    @property
    def duration(self) -> float | None:
        """Seconds from start to end, when the start was seen."""
        if self.started_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


@dataclass(frozen=True, slots=True)
class TryRescheduled(LifecycleEvent):
    """A reschedule-mode sensor poked (``sensor_pokes`` times) without meeting its condition: its try
    ended ``up_for_reschedule`` at ``at`` and is queued again, with the same try number, after
    ``reschedule_at``."""

    key: TaskInstanceKey
    try_number: int
    max_tries: int
    pool: str
    operator: str
    at: datetime
    reschedule_at: datetime | None
    sensor_pokes: int


@dataclass(frozen=True, slots=True)
class TryLost(LifecycleEvent):
    """The try ended without its outcome being recorded (``at``): its claim failed, or its row was
    changed elsewhere while it ran. The scheduler re-reads the run."""

    key: TaskInstanceKey
    try_number: int
    max_tries: int
    pool: str
    operator: str
    at: datetime
    started_at: datetime | None
    error: str | None


@dataclass(frozen=True, slots=True)
class TryZombie(LifecycleEvent):
    """A running try stopped heartbeating; the scheduler set it to ``state`` (failed or up_for_retry).

    ``pool``/``operator`` are None when the scheduler does not know the task's DAG.
    """

    key: TaskInstanceKey
    try_number: int
    max_tries: int
    pool: str | None
    operator: str | None
    state: TaskInstanceState
    at: datetime
    error: str
    next_retry_at: datetime | None


# -- serialisation ------------------------------------------------------------------------------
def _same(value: Any) -> Any:
    return value


def _key_from(data: Mapping[str, Any]) -> TaskInstanceKey:
    return TaskInstanceKey(**data)


_CODECS: dict[Any, tuple[Callable[[Any], Any], Callable[[Any], Any]]] = {
    int: (_same, int),
    str: (_same, str),
    bool: (_same, bool),
    float: (_same, float),
    datetime: (datetime.isoformat, datetime.fromisoformat),
    TaskInstanceState: (str, TaskInstanceState),
    DagRunState: (str, DagRunState),
    TaskInstanceKey: (dataclasses.asdict, _key_from),
    tuple[CallbackRun, ...]: (runs_to_json, runs_from_json),
}


def _optional(codec: Callable[[Any], Any]) -> Callable[[Any], Any]:
    return lambda value: None if value is None else codec(value)


def _codecs_of(cls: type[LifecycleEvent]) -> tuple[_Codec, ...]:
    hints = typing.get_type_hints(cls)
    out: list[_Codec] = []
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        kind = hints[f.name]
        args = set(typing.get_args(kind))
        if type(None) in args and len(args) == 2:
            (inner,) = args - {type(None)}
            encode, decode = _CODECS[inner]
            out.append((f.name, _optional(encode), _optional(decode)))
        else:
            encode, decode = _CODECS[kind]
            out.append((f.name, encode, decode))
    return tuple(out)


Event = (
    RunCreated
    | RunFinished
    | TryScheduled
    | TryQueued
    | TryStarted
    | TryFinished
    | TryRescheduled
    | TryLost
    | TryZombie
)

#: Every event type by name (the ``"event"`` tag of :meth:`LifecycleEvent.to_dict`).
EVENT_TYPES: dict[str, type[LifecycleEvent]] = {
    cls.__name__: cls
    for cls in (
        RunCreated,
        RunFinished,
        TryScheduled,
        TryQueued,
        TryStarted,
        TryFinished,
        TryRescheduled,
        TryLost,
        TryZombie,
    )
}
for _cls in EVENT_TYPES.values():
    _cls._codecs = _codecs_of(_cls)
