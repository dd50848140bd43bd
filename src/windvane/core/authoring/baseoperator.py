"""BaseOperator: the task arguments every operator shares, and default_args.

Subclass it and implement :meth:`BaseOperator.execute`. Like Airflow,
``default_args`` (from the DAG, the task group and the operator call) fill in
any constructor parameter the operator class accepts and the call did not
give; keys no class in the hierarchy accepts are ignored, while an unknown
*explicit* argument is an :class:`~windvane.errors.InvalidArgumentError`.
Misspelled arguments get porting hints: an unknown one names the accepted
argument it is closest to, and a missing required one (``bash_comand=`` for
``bash_command=``) names the given argument that looks like its typo.
"""

from __future__ import annotations

import difflib
import functools
import inspect
import os
import sys
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import datetime, timedelta
from types import FrameType
from typing import TYPE_CHECKING, Any, ClassVar

from windvane.core.authoring import dag_context as authoring_context
from windvane.core.authoring import validation as v
from windvane.core.authoring.dependencies import DependencyMixin
from windvane.core.authoring.per_instance import PerInstance, keep, seed_instance_keys
from windvane.core.model.trigger_rule import TriggerRule
from windvane.errors import DagDefinitionError, InvalidArgumentError

if TYPE_CHECKING:
    from windvane.core.authoring.dag import DAG
    from windvane.core.authoring.taskgroup import TaskGroup
    from windvane.core.authoring.xcom_arg import XComArg

Callback = Callable[[dict[str, Any]], object]
CallbackArg = Callback | Sequence[Callback] | None

WEIGHT_RULES = ("downstream", "upstream", "absolute")
_WINDVANE_SRC = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


#: The attributes most operators hold (set in ``__init__``, by ``add_task`` and by ``>>``, or given
#: through ``default_args``), registered with each operator class before its first instance
#: (:func:`~windvane.core.authoring.per_instance.seed_instance_keys`).
INSTANCE_KEYS = (
    "_defaults_applied",
    "task_id",
    "task_group",
    "owner",
    "email",
    "retries",
    "retry_delay",
    "start_date",
    "defined_at",
    "dag",
    "upstream_task_ids",
    "downstream_task_ids",
)

_ACCEPTED: dict[type, frozenset[str]] = {}


def _accepted_params(cls: type) -> frozenset[str]:
    """Every keyword parameter of every ``__init__`` in ``cls``'s hierarchy (cached per class)."""
    cached = _ACCEPTED.get(cls)
    if cached is not None:
        return cached
    names: set[str] = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None or klass is object:
            continue
        init = getattr(init, "__wrapped__", init)
        for p in inspect.signature(init).parameters.values():
            if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD) and p.name != "self":
                names.add(p.name)
    _ACCEPTED[cls] = frozenset(names)
    return _ACCEPTED[cls]


def did_you_mean(name: str, candidates: Collection[str]) -> str:
    """``" (did you mean 'retries'?)"`` when ``name`` looks like a misspelling of a candidate, else ``""``."""
    matches = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.75)
    return f" (did you mean {matches[0]!r}?)" if matches else ""


_REQUIRED: dict[Callable[..., None], tuple[tuple[str, ...], bool]] = {}


def _required_params(init: Callable[..., None]) -> tuple[tuple[str, ...], bool]:
    """``init``'s required keyword parameters, and whether it passes ``**kwargs`` on (cached)."""
    cached = _REQUIRED.get(init)
    if cached is None:
        params = inspect.signature(getattr(init, "__wrapped__", init)).parameters.values()
        required = tuple(
            p.name
            for p in params
            if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
            and p.default is p.empty
            and p.name != "self"
        )
        cached = _REQUIRED[init] = (required, any(p.kind is p.VAR_KEYWORD for p in params))
    return cached


def _check_required(cls: type, init: Callable[..., None], kwargs: Mapping[str, Any]) -> None:
    """A missing required argument of ``init`` (the class called) is an error naming the task and,
    when one of the given arguments looks like it, the likely typo (Python would only say
    "missing 1 required keyword-only argument")."""
    required, passes_on = _required_params(init)
    if all(name in kwargs for name in required) and (not passes_on or "task_id" in kwargs):
        return  # the common case: nothing more to look at
    if passes_on and "task_id" not in kwargs:
        required = (*required, "task_id")  # BaseOperator's: hinted only when a typo of it was given
    accepted = _accepted_params(cls)
    unknown = [key for key in kwargs if key not in accepted]
    for name in required:
        if name in kwargs:
            continue
        typo = difflib.get_close_matches(name, unknown, n=1, cutoff=0.75)
        if name == "task_id" and not typo:
            continue
        task_id = kwargs[typo[0]] if name == "task_id" else kwargs.get("task_id")
        hint = f"; did you mean {name}= instead of {typo[0]}=?" if typo else ""
        raise InvalidArgumentError(
            f"{cls.__name__} (task_id: {task_id!r}) is missing its required argument {name!r}{hint}"
        )


def _apply_defaults(init: Callable[..., None]) -> Callable[..., None]:
    @functools.wraps(init)
    def wrapper(self: BaseOperator, *args: Any, **kwargs: Any) -> None:
        if self._defaults_applied:
            init(self, *args, **kwargs)
            return
        self._defaults_applied = True
        if args:
            raise InvalidArgumentError(
                f"{type(self).__name__} takes keyword arguments only (got {len(args)} positional)"
            )
        dag = kwargs.get("dag") or authoring_context.current_dag()
        group = kwargs.get("task_group") or authoring_context.current_group(dag)
        merged: dict[str, Any] = {}
        if dag is not None:
            merged.update(dag.default_args)
        if group is not None:
            merged.update(group.effective_default_args)
        merged.update(kwargs.pop("default_args", None) or {})
        accepted = _accepted_params(type(self))
        for key, value in merged.items():
            if key in accepted and key not in kwargs:
                kwargs[key] = value
        kwargs.setdefault("dag", dag)
        kwargs.setdefault("task_group", group)
        _check_required(type(self), init, kwargs)
        init(self, **kwargs)

    wrapper.__dict__["_wv_wrapped"] = True
    return wrapper


_OUTSIDE: dict[str, bool] = {}


def _outside_windvane(filename: str) -> bool:
    """Whether code of ``filename`` is the user's (not Windvane's, not importlib's); cached per file."""
    outside = _OUTSIDE.get(filename)
    if outside is None:
        outside = not os.path.abspath(filename).startswith(_WINDVANE_SRC) and "importlib" not in filename
        if len(_OUTSIDE) < 4096:  # bounded: a process that execs generated code keeps no more
            _OUTSIDE[filename] = outside
    return outside


def definition_site() -> str:
    """``file:line`` of the first stack frame outside Windvane (where the user wrote the task).

    Interned: the tasks a loop defines share one string."""
    frame: FrameType | None = sys._getframe(1)
    while frame is not None:
        filename = frame.f_code.co_filename
        if _outside_windvane(filename):
            return sys.intern(f"{filename}:{frame.f_lineno}")
        frame = frame.f_back
    return "<unknown>"


class BaseOperator(DependencyMixin):
    """Base of every task. Subclasses implement ``execute(context)``.

    ``template_fields`` names attributes rendered with Jinja before
    ``execute``; ``template_ext`` lists file endings whose content is loaded
    and rendered instead of the string itself.
    """

    template_fields: ClassVar[Sequence[str]] = ()
    template_ext: ClassVar[Sequence[str]] = ()
    ui_color: ClassVar[str] = "#fff"
    #: Tasks of a class with this flag finish as success without running (EmptyOperator).
    is_noop: ClassVar[bool] = False

    # Every argument's default, held once by the class: an instance stores only the values it
    # changes (per_instance.keep), which keeps a 10,000-task DAG small (docs/scaling.md).
    owner: str = "windvane"
    email: str | list[str] | None = None
    email_on_failure: bool = True
    email_on_retry: bool = True
    retries: int = 0
    retry_delay: timedelta = timedelta(seconds=300)
    retry_exponential_backoff: bool = False
    max_retry_delay: timedelta | None = None
    execution_timeout: timedelta | None = None
    trigger_rule: TriggerRule = TriggerRule.ALL_SUCCESS
    pool: str = "default_pool"
    pool_slots: int = 1
    priority_weight: int = 1
    weight_rule: str = "downstream"
    depends_on_past: bool = False
    max_active_tis_per_dag: int | None = None
    queue: str = "default"
    sla: timedelta | None = None
    start_date: datetime | None = None
    end_date: datetime | None = None
    params: PerInstance[dict[str, Any]] = PerInstance(dict)
    do_xcom_push: bool = True
    #: Each try in a process forked for it alone, never in a LocalExecutor worker's try host
    #: (fresh module globals, its own cgroup where there are cells).
    isolated: bool = False
    on_failure_callback: CallbackArg = None
    on_success_callback: CallbackArg = None
    on_retry_callback: CallbackArg = None
    on_execute_callback: CallbackArg = None
    on_skipped_callback: CallbackArg = None
    doc_md: str | None = None
    task_group: TaskGroup | None = None
    dag: DAG | None = None
    upstream_task_ids: PerInstance[set[str]] = PerInstance(set)
    downstream_task_ids: PerInstance[set[str]] = PerInstance(set)
    #: Whether the outermost wrapped ``__init__`` of this instance applied default_args already.
    _defaults_applied: bool = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        init = cls.__dict__.get("__init__")
        if init is not None and not getattr(init, "_wv_wrapped", False):
            cls.__init__ = _apply_defaults(init)  # type: ignore[method-assign]
        seed_instance_keys(cls, INSTANCE_KEYS)

    def __init__(
        self,
        *,
        task_id: str,
        owner: str = "windvane",
        email: str | Sequence[str] | None = None,
        email_on_failure: bool = True,
        email_on_retry: bool = True,
        retries: int = 0,
        retry_delay: timedelta | float = timedelta(seconds=300),
        retry_exponential_backoff: bool = False,
        max_retry_delay: timedelta | float | None = None,
        execution_timeout: timedelta | float | None = None,
        trigger_rule: TriggerRule | str = TriggerRule.ALL_SUCCESS,
        pool: str = "default_pool",
        pool_slots: int = 1,
        priority_weight: int = 1,
        weight_rule: str = "downstream",
        depends_on_past: bool = False,
        max_active_tis_per_dag: int | None = None,
        queue: str = "default",
        sla: timedelta | None = None,
        start_date: datetime | None = None,
        end_date: datetime | None = None,
        params: Mapping[str, Any] | None = None,
        do_xcom_push: bool = True,
        isolated: bool = False,
        on_failure_callback: CallbackArg = None,
        on_success_callback: CallbackArg = None,
        on_retry_callback: CallbackArg = None,
        on_execute_callback: CallbackArg = None,
        on_skipped_callback: CallbackArg = None,
        doc_md: str | None = None,
        doc: str | None = None,
        dag: DAG | None = None,
        task_group: TaskGroup | None = None,
        **kwargs: Any,
    ) -> None:
        if kwargs:
            accepted = _accepted_params(type(self))
            raise InvalidArgumentError(
                f"invalid arguments were passed to {type(self).__name__} (task_id: {task_id!r}): "
                + ", ".join(f"{k}={v!r}{did_you_mean(k, accepted)}" for k, v in kwargs.items())
            )
        if not isinstance(task_id, str) or not task_id or not _valid_id(task_id):
            raise DagDefinitionError(
                f"invalid task_id {task_id!r}: use letters, digits, '_', '-' and '.' only"
            )
        if dag is not None and not hasattr(dag, "add_task"):
            raise DagDefinitionError(f"task {task_id!r}: dag must be a DAG, not {type(dag).__name__}")
        if task_group is not None and not hasattr(task_group, "child_id"):
            raise DagDefinitionError(f"task {task_id!r}: task_group must be a TaskGroup, not {task_group!r}")
        keep(self, "task_group", task_group)
        self.task_id = task_group.child_id(task_id) if task_group is not None else task_id
        name = v.owner_name(self.task_id, dag.dag_id if dag is not None else None)
        keep(self, "owner", v.string(owner, "owner", name))
        keep(self, "email", email if isinstance(email, str) else v.strings(email, "email", name) or None)
        keep(self, "email_on_failure", v.flag(email_on_failure, "email_on_failure", name))
        keep(self, "email_on_retry", v.flag(email_on_retry, "email_on_retry", name))
        keep(self, "retries", v.int_in(retries, "retries", name, 0, v.INT32_MAX - 1))
        keep(self, "retry_delay", v.duration(retry_delay, "retry_delay", name))
        keep(
            self,
            "retry_exponential_backoff",
            v.flag(retry_exponential_backoff, "retry_exponential_backoff", name),
        )
        keep(self, "max_retry_delay", v.opt_duration(max_retry_delay, "max_retry_delay", name))
        keep(self, "execution_timeout", v.opt_duration(execution_timeout, "execution_timeout", name))
        keep(self, "trigger_rule", TriggerRule.coerce(trigger_rule, owner=name))
        keep(self, "pool", v.string(pool, "pool", name))
        keep(self, "pool_slots", v.int_in(pool_slots, "pool_slots", name, 1))
        keep(self, "priority_weight", v.int_in(priority_weight, "priority_weight", name, v.INT32_MIN))
        if weight_rule not in WEIGHT_RULES:
            raise DagDefinitionError(
                f"{name} has weight_rule {weight_rule!r}; expected one of {WEIGHT_RULES}"
            )
        keep(self, "weight_rule", weight_rule)
        keep(self, "depends_on_past", v.flag(depends_on_past, "depends_on_past", name))
        keep(
            self,
            "max_active_tis_per_dag",
            v.opt_int_in(max_active_tis_per_dag, "max_active_tis_per_dag", name, 1),
        )
        keep(self, "queue", v.string(queue, "queue", name))
        keep(self, "sla", v.opt_duration(positive_timedelta(sla, "sla", name), "sla", name))
        keep(self, "start_date", v.opt_datetime(start_date, "start_date", name))
        keep(self, "end_date", v.opt_datetime(end_date, "end_date", name))
        if params:  # an empty one is made when first read (PerInstance)
            self.params = v.mapping(params, "params", name)
        else:
            v.mapping(params, "params", name)
        keep(self, "do_xcom_push", v.flag(do_xcom_push, "do_xcom_push", name))
        keep(self, "isolated", v.flag(isolated, "isolated", name))
        for callback_name, callback in (
            ("on_failure_callback", on_failure_callback),
            ("on_success_callback", on_success_callback),
            ("on_retry_callback", on_retry_callback),
            ("on_execute_callback", on_execute_callback),
            ("on_skipped_callback", on_skipped_callback),
        ):
            keep(self, callback_name, v.callbacks(callback, callback_name, name))
        keep(self, "doc_md", v.opt_string(doc_md or doc, "doc_md", name))
        self.defined_at = definition_site()
        if self.dag is not None:  # a subclass set it before this __init__: not a DAG membership
            self.dag = None
        if task_group is not None:
            task_group.add(self)
        if dag is not None:
            dag.add_task(self)

    # -- what subclasses implement ---------------------------------------
    def execute(self, context: dict[str, Any]) -> Any:
        """Do the work of one try. The return value becomes the ``return_value`` XCom."""
        raise NotImplementedError(f"{type(self).__name__} must implement execute(context)")

    def on_kill(self) -> None:
        """Called when the task is killed (timeout, clear); release external resources here."""

    # -- dependencies -------------------------------------------------------
    @property
    def dependency_roots(self) -> list[BaseOperator]:
        return [self]

    @property
    def dependency_leaves(self) -> list[BaseOperator]:
        return [self]

    def add_downstream_task(self, other: BaseOperator) -> None:
        if other is self:
            from windvane.errors import CycleError

            raise CycleError(self.dag.dag_id if self.dag else "?", [self.task_id, self.task_id])
        dag = self.dag or other.dag
        if dag is None:
            raise DagDefinitionError(
                f"cannot set a dependency between {self.task_id!r} and {other.task_id!r}: "
                "neither belongs to a DAG"
            )
        if self.dag is None:
            dag.add_task(self)
        if other.dag is None:
            dag.add_task(other)
        if self.dag is not other.dag:
            raise DagDefinitionError(f"tasks {self.task_id!r} and {other.task_id!r} belong to different DAGs")
        self.downstream_task_ids.add(other.task_id)
        other.upstream_task_ids.add(self.task_id)

    @property
    def upstream_list(self) -> list[BaseOperator]:
        assert self.dag is not None
        return [self.dag.task_dict[t] for t in sorted(self.upstream_task_ids)]

    @property
    def downstream_list(self) -> list[BaseOperator]:
        assert self.dag is not None
        return [self.dag.task_dict[t] for t in sorted(self.downstream_task_ids)]

    @property
    def output(self) -> XComArg:
        """This task's ``return_value`` XCom as an argument for other tasks (Airflow's ``.output``)."""
        from windvane.core.authoring.xcom_arg import XComArg

        return XComArg(self)

    @property
    def operator_name(self) -> str:
        return type(self).__name__

    def __repr__(self) -> str:
        return f"<Task({type(self).__name__}): {self.task_id}>"


# Subclasses without their own __init__ (e.g. EmptyOperator) inherit this one: wrap it too,
# so they also join the current DAG / task group and get default_args.
BaseOperator.__init__ = _apply_defaults(BaseOperator.__init__)  # type: ignore[method-assign]
seed_instance_keys(BaseOperator, INSTANCE_KEYS)


def _valid_id(value: str) -> bool:
    return all(ch.isalnum() or ch in "_-." for ch in value) and len(value) <= 250


def positive_timedelta(value: object, name: str, owner: str) -> timedelta | None:
    """``value`` if it is None or a timedelta > 0 (``sla``, ``deadline``), else a DagDefinitionError
    naming ``owner`` and ``name``."""
    if value is None:
        return None
    if not isinstance(value, timedelta) or value <= timedelta(0):
        raise DagDefinitionError(f"{owner}: {name} must be a positive timedelta, got {value!r}")
    return value
