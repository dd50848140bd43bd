"""The DAG: a set of tasks, their dependencies, a schedule and run-level options.

Use it as a context manager (``with DAG(...) as dag:``) or through :func:`dag`
as a decorator. Definition-time checks raise at once with the culprit named:
duplicate task ids (both definition sites), unknown arguments, bad schedules
and naive dates; :meth:`DAG.validate` (run on leaving the ``with`` block and by
the DAG processor) finds dependency cycles and shows the path.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

import pendulum

from windvane.core.authoring import dag_context as authoring_context
from windvane.core.authoring import validation as v
from windvane.core.authoring.defaults import AuthoringDefaults, get_authoring_defaults
from windvane.errors import (
    CycleError,
    DagDefinitionError,
    DuplicateTaskIdError,
    InvalidArgumentError,
    ScheduleError,
)

if TYPE_CHECKING:
    from types import TracebackType

    from pendulum.tz.timezone import FixedTimezone, Timezone

    from windvane.core.authoring.baseoperator import BaseOperator, CallbackArg
    from windvane.core.timetables.base import Timetable

F = TypeVar("F", bound=Callable[..., Any])


def to_aware(
    value: datetime | None, tz: Timezone | FixedTimezone, *, name: str, owner: str
) -> pendulum.DateTime | None:
    """A datetime as a pendulum DateTime; a naive one is read in ``tz``."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        raise DagDefinitionError(f"{owner}: {name} must be a datetime, not {type(value).__name__}")
    if value.tzinfo is None:
        return pendulum.instance(value.replace(tzinfo=None), tz=tz)
    return pendulum.instance(value)


def _check_identity(dag_id: object, unexpected: Mapping[str, Any]) -> None:
    """No unknown arguments; a dag_id of letters, digits, ``_``, ``-`` and ``.``."""
    if unexpected:
        raise InvalidArgumentError(
            f"DAG {dag_id!r} got unexpected argument(s): " + ", ".join(sorted(unexpected))
        )
    if not isinstance(dag_id, str) or not dag_id or not all(c.isalnum() or c in "_-." for c in dag_id):
        raise DagDefinitionError(f"invalid dag_id {dag_id!r}: use letters, digits, '_', '-' and '.' only")


class DAG:
    """A workflow: tasks, dependencies, schedule and run options (Airflow's names and meanings)."""

    def __init__(
        self,
        dag_id: str,
        *,
        schedule: object = None,
        start_date: datetime | None = None,
        end_date: datetime | None = None,
        catchup: bool | None = None,
        default_args: Mapping[str, Any] | None = None,
        max_active_runs: int | None = None,
        max_active_tasks: int | None = None,
        dagrun_timeout: timedelta | None = None,
        deadline: timedelta | None = None,
        tags: Sequence[str] | None = None,
        params: Mapping[str, Any] | None = None,
        description: str | None = None,
        doc_md: str | None = None,
        on_failure_callback: CallbackArg = None,
        on_success_callback: CallbackArg = None,
        sla_miss_callback: CallbackArg = None,
        is_paused_upon_creation: bool | None = None,
        template_searchpath: str | Sequence[str] | None = None,
        user_defined_macros: Mapping[str, Any] | None = None,
        user_defined_filters: Mapping[str, Callable[..., Any]] | None = None,
        owner_links: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        _check_identity(dag_id, kwargs)
        self.dag_id = dag_id
        owner = f"DAG {dag_id!r}"
        defaults = get_authoring_defaults()
        self.default_args = v.mapping(default_args, "default_args", owner)
        self._set_dates(start_date, end_date, defaults.timezone, owner)
        self._set_schedule(schedule, v.opt_flag(catchup, "catchup", owner), defaults, owner)
        self._set_limits(max_active_runs, max_active_tasks, dagrun_timeout, defaults, owner)
        from windvane.core.authoring.baseoperator import positive_timedelta

        self.deadline = v.opt_duration(positive_timedelta(deadline, "deadline", owner), "deadline", owner)
        self.tags = v.strings(tags, "tags", owner)
        self.params = v.mapping(params, "params", owner)
        self.description = v.opt_string(description, "description", owner)
        self.doc_md = v.opt_string(doc_md, "doc_md", owner)
        self.on_failure_callback = v.callbacks(on_failure_callback, "on_failure_callback", owner)
        self.on_success_callback = v.callbacks(on_success_callback, "on_success_callback", owner)
        self.sla_miss_callback = v.callbacks(sla_miss_callback, "sla_miss_callback", owner)
        self.is_paused_upon_creation = v.opt_flag(is_paused_upon_creation, "is_paused_upon_creation", owner)
        self.template_searchpath = v.strings(template_searchpath, "template_searchpath", owner)
        self.user_defined_macros = v.mapping(user_defined_macros, "user_defined_macros", owner)
        self.user_defined_filters = v.mapping(user_defined_filters, "user_defined_filters", owner)
        self.owner_links = v.mapping(owner_links, "owner_links", owner)
        self.task_dict: dict[str, BaseOperator] = {}
        self.task_group_ids: set[str] = set()
        self.fileloc = _caller_file()

    def _set_dates(
        self,
        start_date: datetime | None,
        end_date: datetime | None,
        default_tz: Timezone | FixedTimezone,
        owner: str,
    ) -> None:
        """``start_date``/``end_date`` (else from ``default_args``), aware; the DAG's timezone."""
        if start_date is None:
            start_date = self.default_args.get("start_date")
        if end_date is None:
            end_date = self.default_args.get("end_date")
        self.start_date = to_aware(start_date, default_tz, name="start_date", owner=owner)
        self.end_date = to_aware(end_date, default_tz, name="end_date", owner=owner)
        if self.start_date and self.end_date and self.end_date < self.start_date:
            raise DagDefinitionError(
                f"{owner}: end_date {self.end_date} is before start_date {self.start_date}"
            )
        self.timezone: Timezone | FixedTimezone = (
            self.start_date.timezone
            if self.start_date is not None and self.start_date.timezone
            else default_tz
        )

    def _set_schedule(
        self, schedule: object, catchup: bool | None, defaults: AuthoringDefaults, owner: str
    ) -> None:
        """The schedule as given, its timetable (errors name the DAG) and ``catchup``."""
        from windvane.core.timetables.schedule import create_timetable

        self.schedule = schedule
        try:
            self.timetable: Timetable = create_timetable(schedule, self.timezone)
        except ScheduleError as exc:  # name the DAG: the message reaches the import-error list
            exc.args = (f"{owner}: {exc}",)
            raise
        self.catchup = defaults.catchup if catchup is None else bool(catchup)

    def _set_limits(
        self,
        max_active_runs: int | None,
        max_active_tasks: int | None,
        dagrun_timeout: timedelta | None,
        defaults: AuthoringDefaults,
        owner: str,
    ) -> None:
        """Concurrency limits (positive ints, else the authoring defaults) and ``dagrun_timeout``."""
        runs = defaults.max_active_runs if max_active_runs is None else max_active_runs
        tasks = defaults.max_active_tasks if max_active_tasks is None else max_active_tasks
        self.max_active_runs = v.int_in(runs, "max_active_runs", owner, 1)
        self.max_active_tasks = v.int_in(tasks, "max_active_tasks", owner, 1)
        if dagrun_timeout is not None and not isinstance(dagrun_timeout, timedelta):
            raise DagDefinitionError(f"{owner}: dagrun_timeout must be a timedelta")
        self.dagrun_timeout = v.opt_duration(dagrun_timeout, "dagrun_timeout", owner)

    # -- building ------------------------------------------------------
    def add_task(self, task: BaseOperator) -> None:
        existing = self.task_dict.get(task.task_id)
        if existing is not None and existing is not task:
            raise DuplicateTaskIdError(
                f"task id {task.task_id!r} has already been added to DAG {self.dag_id!r} "
                f"(first defined at {existing.defined_at}, again at {task.defined_at})"
            )
        if task.dag is not None and task.dag is not self:
            raise DagDefinitionError(f"task {task.task_id!r} already belongs to DAG {task.dag.dag_id!r}")
        self.task_dict[task.task_id] = task
        task.dag = self
        if task.start_date is not None:
            task.start_date = to_aware(
                task.start_date, self.timezone, name="start_date", owner=f"task {task.task_id!r}"
            )

    def add_tasks(self, tasks: Iterable[BaseOperator]) -> None:
        for task in tasks:
            self.add_task(task)

    def __enter__(self) -> DAG:
        authoring_context.push_dag(self)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        authoring_context.pop_dag()
        if exc_type is None:
            self.validate()
            authoring_context.register_dag(self)

    # -- reading -------------------------------------------------------
    @property
    def tasks(self) -> list[BaseOperator]:
        return list(self.task_dict.values())

    @property
    def task_ids(self) -> list[str]:
        return list(self.task_dict)

    def get_task(self, task_id: str) -> BaseOperator:
        try:
            return self.task_dict[task_id]
        except KeyError:
            from windvane.errors import NotFoundError

            raise NotFoundError(f"task {task_id!r} not found in DAG {self.dag_id!r}") from None

    def has_task(self, task_id: str) -> bool:
        return task_id in self.task_dict

    @property
    def roots(self) -> list[BaseOperator]:
        return [t for t in self.task_dict.values() if not t.upstream_task_ids]

    @property
    def leaves(self) -> list[BaseOperator]:
        return [t for t in self.task_dict.values() if not t.downstream_task_ids]

    def upstream_map(self) -> dict[str, list[str]]:
        return {tid: sorted(t.upstream_task_ids) for tid, t in self.task_dict.items()}

    def topological_sort(self) -> list[BaseOperator]:
        """Tasks in an order where every upstream comes first; raises CycleError."""
        return [self.task_dict[t] for t in topological_order(self.dag_id, self.upstream_map())]

    def validate(self) -> None:
        """Check what can only be checked once the DAG is complete (cycles, schedule, dates)."""
        topological_order(self.dag_id, self.upstream_map())
        has_start = self.start_date is not None or any(t.start_date for t in self.task_dict.values())
        if self.timetable.can_be_scheduled and not has_start:
            raise DagDefinitionError(
                f"DAG {self.dag_id!r} has schedule {self.timetable.summary!r} but no start_date"
            )
        self.timetable.validate()
        if authoring_context.first_run_deferred():
            return  # the DAG processor checks it, once per schedule
        start = self._first_start()
        inputs = (self.timetable, start, self.end_date, self.catchup)
        checked = self.__dict__.get("_first_run_checked")
        # The first run (croniter's work, the largest part of a validation) is computed again only
        # if what it depends on changed since the last validation: the DAG processor validates
        # every DAG once more after the ``with`` block already did.
        if checked is None or checked[0] is not inputs[0] or checked[1:] != inputs[1:]:
            v.first_run_computable(self.dag_id, functools.partial(self._first_run, start))
            self._first_run_checked = inputs

    def _first_start(self) -> pendulum.DateTime | None:
        if self.start_date is not None:
            return self.start_date
        starts = [t.start_date for t in self.task_dict.values() if t.start_date is not None]
        return pendulum.instance(min(starts)) if starts else None

    def _first_run(self, start: pendulum.DateTime | None) -> object:
        from windvane.core.timetables.ops import next_run_info

        return next_run_info(
            self.timetable,
            start_date=start,
            end_date=self.end_date,
            catchup=self.catchup,
            last_interval=None,
            now=pendulum.now("UTC"),
        )

    def priority_weights(self) -> dict[str, int]:
        """Effective priority per task, by each task's weight_rule (Airflow's), clamped to 32 bits."""
        order = [t.task_id for t in self.topological_sort()]
        result: dict[str, int] = {}
        down_sets: dict[str, set[str]] = {}
        for tid in reversed(order):
            acc: set[str] = set()
            for d in self.task_dict[tid].downstream_task_ids:
                acc.add(d)
                acc |= down_sets[d]
            down_sets[tid] = acc
        up_sets: dict[str, set[str]] = {}
        for tid in order:
            acc = set()
            for u in self.task_dict[tid].upstream_task_ids:
                acc.add(u)
                acc |= up_sets[u]
            up_sets[tid] = acc
        for tid, task in self.task_dict.items():
            if task.weight_rule == "absolute":
                result[tid] = task.priority_weight
            else:
                related = down_sets[tid] if task.weight_rule == "downstream" else up_sets[tid]
                total = task.priority_weight + sum(self.task_dict[r].priority_weight for r in related)
                result[tid] = v.clamp_int32(total)
        return result

    def __repr__(self) -> str:
        return f"<DAG: {self.dag_id}>"


def topological_order(dag_id: str, upstream: Mapping[str, Sequence[str]]) -> list[str]:
    """Kahn's order of ``upstream``'s keys; a cycle raises CycleError with its path."""
    indegree = {t: len(ups) for t, ups in upstream.items()}
    downstream: dict[str, list[str]] = {t: [] for t in upstream}
    for t, ups in upstream.items():
        for u in ups:
            downstream[u].append(t)
    ready = sorted(t for t, n in indegree.items() if n == 0)
    order: list[str] = []
    while ready:
        t = ready.pop()
        order.append(t)
        for d in downstream[t]:
            indegree[d] -= 1
            if indegree[d] == 0:
                ready.append(d)
    if len(order) != len(upstream):
        remaining = {t for t, n in indegree.items() if n > 0}
        raise CycleError(dag_id, _find_cycle(remaining, upstream))
    return order


def _find_cycle(nodes: set[str], upstream: Mapping[str, Sequence[str]]) -> list[str]:
    """One cycle among ``nodes`` (each has an upstream inside ``nodes``), as a closed path."""
    # Walking upstream always finds another remaining node, so the walk must close a loop.
    node = min(nodes)
    seen: dict[str, int] = {}
    walk: list[str] = []
    while node not in seen:
        seen[node] = len(walk)
        walk.append(node)
        node = min(u for u in upstream[node] if u in nodes)
    loop = walk[seen[node] :]
    loop.reverse()
    # Start the reported path at its smallest id for stable messages.
    first = loop.index(min(loop))
    loop = loop[first:] + loop[:first]
    return [*loop, loop[0]]


def _caller_file() -> str:
    from windvane.core.authoring.baseoperator import definition_site

    return definition_site().rsplit(":", 1)[0]


def dag(dag_id: str | None = None, **dag_kwargs: Any) -> Callable[[F], Callable[..., DAG]]:
    """Decorator form: the function body builds the tasks; calling it returns the DAG.

    ``dag_id`` defaults to the function name; the function's parameters with
    defaults become DAG ``params`` (as in Airflow).
    """

    def decorator(func: F) -> Callable[..., DAG]:
        @functools.wraps(func)
        def factory(*args: Any, **kwargs: Any) -> DAG:
            options = dict(dag_kwargs)
            params = dict(options.pop("params", None) or {})
            for p in inspect.signature(func).parameters.values():
                if p.default is not inspect.Parameter.empty:
                    params.setdefault(p.name, p.default)
            with DAG(dag_id or func.__name__, params=params, **options) as built:
                func(*args, **kwargs)
            if not built.doc_md and func.__doc__:
                built.doc_md = inspect.cleandoc(func.__doc__)
            built.fileloc = inspect.getsourcefile(func) or built.fileloc
            return built

        return factory

    return decorator
