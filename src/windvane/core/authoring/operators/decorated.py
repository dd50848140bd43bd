"""The operators behind TaskFlow's ``@task``, ``@task.branch``, ``@task.short_circuit``, ``@task.bash``.

:class:`DecoratedOperator` holds what they share (Airflow's names): unique
``name__N`` task ids, checking the call's arguments against the function,
XComArg dependencies, and ``multiple_outputs``.
"""

from __future__ import annotations

import inspect
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from windvane.core.authoring import dag_context as authoring_context
from windvane.core.authoring.baseoperator import BaseOperator
from windvane.core.authoring.operators.bash import BashOperator
from windvane.core.authoring.operators.python import (
    BranchPythonOperator,
    PythonOperator,
    ShortCircuitOperator,
)
from windvane.core.authoring.per_instance import PerInstance, keep
from windvane.core.authoring.xcom_arg import resolve_xcom_args, set_xcom_arg_dependencies
from windvane.core.task_api.context import call_with_context
from windvane.core.task_api.templating import make_jinja_env, render_template_fields
from windvane.errors import InvalidArgumentError, TaskCommandError, TaskReturnError

if TYPE_CHECKING:
    from jinja2.sandbox import SandboxedEnvironment

    from windvane.core.authoring.dag import DAG
    from windvane.core.authoring.taskgroup import TaskGroup

#: Context entries (see :func:`windvane.core.task_api.context.build_context`) a TaskFlow function may name
#: as parameters without the call giving them: they are filled when the task runs.
KNOWN_CONTEXT_KEYS = frozenset(
    {
        "ds", "ds_nodash", "ts", "ts_nodash", "ts_nodash_with_tz", "logical_date",
        "data_interval_start", "data_interval_end", "prev_data_interval_start_success",
        "prev_data_interval_end_success", "run_id", "dag_run", "dag", "task", "ti",
        "task_instance", "params", "macros", "var", "conn", "templates_dict",
    }
)  # fmt: skip


def unique_task_id(task_id: str, dag: DAG | None, task_group: TaskGroup | None) -> str:
    """``task_id``, or ``task_id__N`` (next free N) if the DAG already has it (Airflow's scheme).

    The check uses the full id inside ``task_group``; the returned id is the
    label (without the group prefix).
    """
    dag = dag or authoring_context.current_dag()
    if dag is None:
        return task_id
    task_group = task_group or authoring_context.current_group(dag)
    full_id = task_group.child_id(task_id) if task_group is not None else task_id
    if full_id not in dag.task_dict:
        return task_id
    return next_free_id(task_id, full_id, dag.task_dict)


_SUFFIX = re.compile(r"__\d+$")


def next_free_id(label: str, full_id: str, used: Iterable[str]) -> str:
    """``label`` with the suffix ``__N``, N one more than the largest ``full_id`` variant in ``used``."""
    pattern = re.compile("^" + re.escape(_SUFFIX.split(full_id)[0]) + r"__(\d+)$")
    numbers = [int(m.group(1)) for used_id in used if (m := pattern.match(used_id))]
    return f"{_SUFFIX.split(label)[0]}__{max(numbers, default=0) + 1}"


def check_call_arguments(
    func: Callable[..., Any], args: Sequence[Any], kwargs: Mapping[str, Any], owner: str
) -> None:
    """Fail at definition time if ``func(*args, **kwargs)`` cannot bind.

    Parameters named like a context entry (``ti``, ``ds``, ...) may be left
    out: they are filled from the context at run time.
    """
    signature = inspect.signature(func)
    try:
        bound = signature.bind_partial(*args, **kwargs)
    except TypeError as exc:
        raise InvalidArgumentError(f"{owner}: {exc}") from None
    missing = [
        p.name
        for p in signature.parameters.values()
        if p.name not in bound.arguments
        and p.default is p.empty
        and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        and p.name not in KNOWN_CONTEXT_KEYS
    ]
    if missing:
        raise InvalidArgumentError(f"{owner}: missing required argument(s): {', '.join(missing)}")


class DecoratedOperator(BaseOperator):
    """Base of the TaskFlow operators: a Python callable called with the TaskFlow call's arguments.

    :param multiple_outputs: push each key of the returned dict as its own
        XCom (besides the whole dict as ``return_value``).
    """

    custom_operator_name: ClassVar[str] = "@task"
    template_fields: ClassVar[Sequence[str]] = ("op_args", "op_kwargs")
    # Defaults on the class (a task stores what it changes); empty ones are made when first read.
    op_args: Any = PerInstance(list)
    op_kwargs: Any = PerInstance(dict)
    multiple_outputs: bool = False

    def __init__(
        self,
        *,
        python_callable: Callable[..., Any],
        task_id: str,
        op_args: Sequence[Any] | None = None,
        op_kwargs: Mapping[str, Any] | None = None,
        multiple_outputs: bool = False,
        **kwargs: Any,
    ) -> None:
        dag, group = kwargs.get("dag"), kwargs.get("task_group")
        task_id = unique_task_id(task_id, dag, group)
        op_args = list(op_args or [])
        op_kwargs = {**_function_defaults(python_callable, op_args, op_kwargs or {}, dag, group)}
        check_call_arguments(python_callable, op_args, op_kwargs, f"{self.custom_operator_name} {task_id!r}")
        self.python_callable = python_callable
        if op_args:  # an empty list or dict is made when first read (PerInstance)
            self.op_args = op_args
        if op_kwargs:
            self.op_kwargs = op_kwargs
        keep(self, "multiple_outputs", multiple_outputs)
        super().__init__(task_id=task_id, **self._upstream_kwargs(op_args, op_kwargs), **kwargs)
        set_xcom_arg_dependencies(self, op_args, op_kwargs)

    def _upstream_kwargs(self, op_args: list[Any], op_kwargs: dict[str, Any]) -> dict[str, Any]:
        """Arguments the operator class after this one in the MRO needs."""
        return {"python_callable": self.python_callable, "op_args": op_args, "op_kwargs": op_kwargs}

    @property
    def operator_name(self) -> str:
        return self.custom_operator_name

    def execute(self, context: dict[str, Any]) -> Any:
        return_value = super().execute(context)
        return self._handle_output(return_value, context)

    def _handle_output(self, return_value: Any, context: dict[str, Any]) -> Any:
        if not self.multiple_outputs:
            return return_value
        if not isinstance(return_value, dict):
            raise TaskReturnError(
                f"task {self.task_id!r} has multiple_outputs=True but returned "
                f"{type(return_value).__name__}, not a dict"
            )
        bad = [k for k in return_value if not isinstance(k, str)]
        if bad:
            raise TaskReturnError(
                f"task {self.task_id!r} has multiple_outputs=True; returned dict keys must be strings, "
                f"found {bad[0]!r} ({type(bad[0]).__name__})"
            )
        if self.do_xcom_push:
            for key, value in return_value.items():
                context["ti"].xcom_push(key, value)
        return return_value


def _function_defaults(
    func: Callable[..., Any],
    args: list[Any],
    kwargs: Mapping[str, Any],
    dag: DAG | None,
    group: TaskGroup | None,
) -> dict[str, Any]:
    """``kwargs`` plus DAG / task-group ``default_args`` entries named by ``func``'s parameters (Airflow)."""
    defaults: dict[str, Any] = dict(dag.default_args) if dag is not None else {}
    if group is not None:
        defaults.update(group.effective_default_args)
    result = dict(kwargs)
    names = list(inspect.signature(func).parameters.values())
    positional = {
        p.name for p in names[: len(args)] if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    }
    for p in names:
        if (
            p.name in defaults
            and p.name not in result
            and p.name not in positional
            and p.kind
            in (
                p.POSITIONAL_OR_KEYWORD,
                p.KEYWORD_ONLY,
            )
        ):
            result[p.name] = defaults[p.name]
    return result


class _PythonDecoratedOperator(DecoratedOperator, PythonOperator):
    """``@task`` / ``@task.python``."""

    custom_operator_name: ClassVar[str] = "@task"


class _BranchPythonDecoratedOperator(DecoratedOperator, BranchPythonOperator):
    """``@task.branch``: the function returns the task id(s) to follow."""

    custom_operator_name: ClassVar[str] = "@task.branch"


class _ShortCircuitDecoratedOperator(DecoratedOperator, ShortCircuitOperator):
    """``@task.short_circuit``: a falsy return value skips downstream tasks."""

    custom_operator_name: ClassVar[str] = "@task.short_circuit"


class _BashDecoratedOperator(DecoratedOperator, BashOperator):
    """``@task.bash``: the function returns the command to run (rendered as a template)."""

    custom_operator_name: ClassVar[str] = "@task.bash"
    template_fields: ClassVar[tuple[str, ...]] = ("op_args", "op_kwargs", "bash_command", "env", "cwd")

    def __init__(self, *, multiple_outputs: bool = False, **kwargs: Any) -> None:
        # Like Airflow, @task.bash pushes only the command's last output line.
        super().__init__(multiple_outputs=False, **kwargs)

    def _upstream_kwargs(self, op_args: list[Any], op_kwargs: dict[str, Any]) -> dict[str, Any]:
        return {"bash_command": "<set when the task runs>"}

    def execute(self, context: dict[str, Any]) -> Any:
        op_args = list(resolve_xcom_args(self.op_args, context))
        op_kwargs = dict(resolve_xcom_args(self.op_kwargs, context))
        command = call_with_context(self.python_callable, op_args, op_kwargs, context)
        if not isinstance(command, str) or not command.strip():
            raise TaskCommandError(
                f"task {self.task_id!r}: the @task.bash function must return a non-empty command string, "
                f"got {command!r}"
            )
        self.bash_command = command
        owner = f"task {self.task_id!r}" + (f" in DAG {self.dag.dag_id!r}" if self.dag else "")
        render_template_fields(
            self, ["bash_command"], context, _jinja_env(self.dag), template_ext=self.template_ext, owner=owner
        )
        return BashOperator.execute(self, context)


def _jinja_env(dag: DAG | None) -> SandboxedEnvironment:
    if dag is None:
        return make_jinja_env()
    env = make_jinja_env(searchpath=[os.path.dirname(dag.fileloc), *dag.template_searchpath])
    env.filters.update(dag.user_defined_filters)
    env.globals.update(dag.user_defined_macros)
    return env
