"""TaskFlow: ``@task`` (and ``.python``, ``.branch``, ``.short_circuit``, ``.bash``) and ``@task_group``.

Calling a decorated function inside a DAG creates a task and returns an
:class:`~windvane.core.authoring.xcom_arg.XComArg` for its return value; XComArgs given
as arguments make the producing tasks upstream and are replaced by their
values when the task runs. Names and meanings follow Airflow 2.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable, Mapping
from typing import Any, Generic, ParamSpec, TypeVar, overload

from windvane.core.authoring import dag_context as authoring_context
from windvane.core.authoring.baseoperator import BaseOperator
from windvane.core.authoring.operators.decorated import (
    _BashDecoratedOperator,
    _BranchPythonDecoratedOperator,
    _PythonDecoratedOperator,
    _ShortCircuitDecoratedOperator,
)
from windvane.core.authoring.sensors.python import SensorDecoratedOperator
from windvane.core.authoring.taskgroup_decorator import task_group
from windvane.core.authoring.xcom_arg import XComArg
from windvane.errors import DagDefinitionError, InvalidArgumentError

P = ParamSpec("P")
R = TypeVar("R")

__all__ = ["XComArg", "task", "task_group"]


def infer_multiple_outputs(func: Callable[..., Any]) -> bool:
    """True when ``func`` is annotated to return a dict (``dict``, ``dict[str, int]``, ...), as in Airflow."""
    annotation = getattr(func, "__annotations__", {}).get("return", inspect.Parameter.empty)
    if annotation is inspect.Parameter.empty:
        return False

    def fake() -> None: ...

    fake.__annotations__ = {"return": annotation}
    try:
        return_type = typing.get_type_hints(fake, getattr(func, "__globals__", None)).get("return")
    except (NameError, TypeError):  # a forward reference that cannot be evaluated
        return False
    origin = typing.get_origin(return_type) or return_type
    return origin in (dict, typing.Dict)  # noqa: UP006 - typing.Dict is what users may write


class _TaskDecorator(Generic[P, R]):
    """A function wrapped by ``@task``: call it inside a DAG to add a task.

    ``.function`` is the plain function; ``.override(**kwargs)`` returns a copy
    with other operator arguments (e.g. ``task_id``, ``retries``).
    """

    def __init__(
        self,
        function: Callable[P, R],
        operator_class: type[BaseOperator],
        multiple_outputs: bool | None,
        kwargs: Mapping[str, Any],
        decorator_name: str = "task",
    ) -> None:
        if not callable(function):
            raise InvalidArgumentError(f"@{decorator_name} must decorate a function, got {function!r}")
        self.function = function
        self.operator_class = operator_class
        self.decorator_name = decorator_name
        if "self" in inspect.signature(function).parameters:
            raise InvalidArgumentError(
                f"@{decorator_name} does not support methods ({function.__qualname__})"
            )
        self.multiple_outputs = (
            infer_multiple_outputs(function) if multiple_outputs is None else bool(multiple_outputs)
        )
        self.kwargs: dict[str, Any] = dict(kwargs)
        self.kwargs.setdefault("task_id", function.__name__)
        self.__wrapped__ = function
        self.__name__ = getattr(function, "__name__", "task")
        self.__doc__ = function.__doc__

    def __call__(self, *args: Any, **kwargs: Any) -> XComArg:
        # Typed loosely on purpose: a call passes XComArgs where the function takes values,
        # and leaves out context parameters (``ti``, ``ds``, ...).
        dag = self.kwargs.get("dag") or authoring_context.current_dag()
        if dag is None:
            raise DagDefinitionError(
                f"@{self.decorator_name} function {self.__name__!r} was called outside a DAG: call it inside "
                "`with DAG(...)` or a @dag function (use .function(...) to call the plain function)"
            )
        op = self.operator_class(
            python_callable=self.function,
            op_args=args,
            op_kwargs=kwargs,
            multiple_outputs=self.multiple_outputs,
            **self.kwargs,
        )
        if op.doc_md is None and self.function.__doc__:
            op.doc_md = inspect.cleandoc(self.function.__doc__)
        return XComArg(op)

    def override(self, **kwargs: Any) -> _TaskDecorator[P, R]:
        """A copy of this decorator with ``kwargs`` replacing its operator arguments."""
        multiple_outputs = kwargs.pop("multiple_outputs", self.multiple_outputs)
        return _TaskDecorator(
            self.function,
            self.operator_class,
            multiple_outputs,
            {**self.kwargs, **kwargs},
            self.decorator_name,
        )

    def __repr__(self) -> str:
        return f"<@{self.decorator_name} {self.__name__}>"


def _factory(
    operator_class: type[BaseOperator],
    decorator_name: str,
    python_callable: Callable[P, R] | None,
    multiple_outputs: bool | None,
    kwargs: dict[str, Any],
) -> Any:
    if python_callable is not None:
        return _TaskDecorator(python_callable, operator_class, multiple_outputs, kwargs, decorator_name)

    def decorator(func: Callable[P, R]) -> _TaskDecorator[P, R]:
        return _TaskDecorator(func, operator_class, multiple_outputs, kwargs, decorator_name)

    return decorator


class TaskDecoratorCollection:
    """``task``: ``@task`` / ``@task(...)``, ``.python``, ``.branch``, ``.short_circuit``, ``.bash``,
    ``.sensor``.

    Keyword arguments are the operator's (any BaseOperator argument, and
    e.g. ``env`` / ``cwd`` for ``@task.bash``); ``multiple_outputs`` defaults
    to True when the function is annotated to return a dict.
    """

    @overload
    def __call__(self, python_callable: Callable[P, R]) -> _TaskDecorator[P, R]: ...

    @overload
    def __call__(
        self, python_callable: None = None, *, multiple_outputs: bool | None = None, **kwargs: Any
    ) -> Callable[[Callable[P, R]], _TaskDecorator[P, R]]: ...

    def __call__(
        self,
        python_callable: Callable[P, R] | None = None,
        *,
        multiple_outputs: bool | None = None,
        **kwargs: Any,
    ) -> Any:
        return _factory(_PythonDecoratedOperator, "task", python_callable, multiple_outputs, kwargs)

    python = __call__

    @overload
    def branch(self, python_callable: Callable[P, R]) -> _TaskDecorator[P, R]: ...

    @overload
    def branch(
        self, python_callable: None = None, *, multiple_outputs: bool | None = None, **kwargs: Any
    ) -> Callable[[Callable[P, R]], _TaskDecorator[P, R]]: ...

    def branch(
        self,
        python_callable: Callable[P, R] | None = None,
        *,
        multiple_outputs: bool | None = None,
        **kwargs: Any,
    ) -> Any:
        """The function returns the task id(s) to follow; see BranchPythonOperator."""
        return _factory(
            _BranchPythonDecoratedOperator, "task.branch", python_callable, multiple_outputs, kwargs
        )

    @overload
    def short_circuit(self, python_callable: Callable[P, R]) -> _TaskDecorator[P, R]: ...

    @overload
    def short_circuit(
        self, python_callable: None = None, *, multiple_outputs: bool | None = None, **kwargs: Any
    ) -> Callable[[Callable[P, R]], _TaskDecorator[P, R]]: ...

    def short_circuit(
        self,
        python_callable: Callable[P, R] | None = None,
        *,
        multiple_outputs: bool | None = None,
        **kwargs: Any,
    ) -> Any:
        """A falsy return value skips downstream tasks; see ShortCircuitOperator."""
        return _factory(
            _ShortCircuitDecoratedOperator, "task.short_circuit", python_callable, multiple_outputs, kwargs
        )

    @overload
    def sensor(self, python_callable: Callable[P, R]) -> _TaskDecorator[P, R]: ...

    @overload
    def sensor(
        self, python_callable: None = None, **kwargs: Any
    ) -> Callable[[Callable[P, R]], _TaskDecorator[P, R]]: ...

    def sensor(self, python_callable: Callable[P, R] | None = None, **kwargs: Any) -> Any:
        """The function is the sensor's poke: it returns a bool or a PokeReturnValue; see PythonSensor.
        Sensor arguments (``mode``, ``poke_interval``, ``timeout``...) go to the decorator."""
        multiple_outputs = kwargs.pop("multiple_outputs", False)
        return _factory(SensorDecoratedOperator, "task.sensor", python_callable, multiple_outputs, kwargs)

    @overload
    def bash(self, python_callable: Callable[P, R]) -> _TaskDecorator[P, R]: ...

    @overload
    def bash(
        self, python_callable: None = None, **kwargs: Any
    ) -> Callable[[Callable[P, R]], _TaskDecorator[P, R]]: ...

    def bash(self, python_callable: Callable[P, R] | None = None, **kwargs: Any) -> Any:
        """The function returns the bash command to run; see BashOperator."""
        kwargs.pop("multiple_outputs", None)
        return _factory(_BashDecoratedOperator, "task.bash", python_callable, False, kwargs)


task = TaskDecoratorCollection()
