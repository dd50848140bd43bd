"""``@task_group``: a function whose body builds the tasks of a TaskGroup (Airflow's decorator).

Each call creates a TaskGroup named after the function (``name__1``,
``name__2`` on later calls in the same place), runs the body inside it and
returns what the body returned, or the group itself when that is None, so
the call can stand on either side of ``>>``.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar, overload

from windvane.core.authoring import dag_context as authoring_context
from windvane.core.authoring.operators.decorated import next_free_id
from windvane.core.authoring.taskgroup import TaskGroup
from windvane.errors import DagDefinitionError

P = ParamSpec("P")
R = TypeVar("R")


class _TaskGroupFactory:
    """The decorated function; call it inside a DAG. ``.override(**kwargs)`` changes TaskGroup arguments."""

    def __init__(self, function: Callable[..., Any], kwargs: dict[str, Any]) -> None:
        self.function = function
        self.kwargs = kwargs
        functools.update_wrapper(self, function)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        dag = self.kwargs.get("dag") or authoring_context.current_dag()
        if dag is None:
            raise DagDefinitionError(
                f"@task_group function {self.function.__name__!r} was called outside a DAG"
            )
        options = dict(self.kwargs)
        label = options.pop("group_id", None) or self.function.__name__
        parent = options.get("parent_group") or authoring_context.current_group(dag)
        label = _unique_label(label, parent, dag.task_group_ids)
        if not options.get("tooltip") and self.function.__doc__:
            options["tooltip"] = inspect.cleandoc(self.function.__doc__)
        with TaskGroup(label, **options) as group:
            result = self.function(*args, **kwargs)
        return group if result is None else result

    def override(self, **kwargs: Any) -> _TaskGroupFactory:
        """A copy with ``kwargs`` replacing its TaskGroup arguments (e.g. ``group_id``)."""
        return _TaskGroupFactory(self.function, {**self.kwargs, **kwargs})


def _unique_label(label: str, parent: TaskGroup | None, used: set[str]) -> str:
    full = parent.child_id(label) if parent is not None else label
    if full not in used:
        return label
    return next_free_id(label, full, used)


@overload
def task_group(python_callable: Callable[P, R]) -> _TaskGroupFactory: ...


@overload
def task_group(
    python_callable: None = None, **kwargs: Any
) -> Callable[[Callable[P, R]], _TaskGroupFactory]: ...


def task_group(python_callable: Callable[P, R] | None = None, **kwargs: Any) -> Any:
    """``@task_group`` or ``@task_group(group_id=..., prefix_group_id=..., tooltip=..., default_args=...)``.

    The group id defaults to the function name and the tooltip to its docstring.
    """
    if python_callable is not None:
        return _TaskGroupFactory(python_callable, kwargs)

    def decorator(func: Callable[P, R]) -> _TaskGroupFactory:
        return _TaskGroupFactory(func, kwargs)

    return decorator
