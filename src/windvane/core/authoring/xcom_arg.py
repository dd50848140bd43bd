"""XComArg: a reference to a value another task will push, usable as a task argument.

``some_task()`` (TaskFlow) and ``operator.output`` return an :class:`XComArg`
for the producing task's ``return_value``; ``xcom_arg["key"]`` refers to
another key of the same task (``multiple_outputs``). As in Airflow:

* passing an XComArg (also nested in lists, tuples and dicts) to a task's
  templated arguments makes the producing task upstream of it;
* at run time it is replaced by the pulled value (:func:`resolve_xcom_args`);
* it stands on either side of ``>>`` / ``<<``, in lists and in ``chain``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from windvane.core.authoring.dependencies import DependencyMixin
from windvane.core.task_api.task_instance import XCOM_RETURN_KEY
from windvane.errors import XComNotFoundError

if TYPE_CHECKING:
    from windvane.core.authoring.baseoperator import BaseOperator

_MISSING: Any = object()


class XComArg(DependencyMixin):
    """The XCom ``key`` (default ``return_value``) that ``operator`` pushes in the same run."""

    def __init__(self, operator: BaseOperator, key: str = XCOM_RETURN_KEY) -> None:
        self.operator = operator
        self.key = key

    # -- dependencies ------------------------------------------------------
    @property
    def dependency_roots(self) -> list[BaseOperator]:
        return [self.operator]

    @property
    def dependency_leaves(self) -> list[BaseOperator]:
        return [self.operator]

    # -- referencing ---------------------------------------------------------
    def __getitem__(self, key: str) -> XComArg:
        """The XCom ``key`` of the same task (e.g. one output of ``multiple_outputs``)."""
        if not isinstance(key, str):
            raise TypeError(f"XComArg keys are strings, got {key!r} (type {type(key).__name__})")
        return XComArg(self.operator, key)

    def __iter__(self) -> Iterator[Any]:
        # Without this, __getitem__ would make ``for x in xcom_arg`` loop forever.
        raise TypeError("an XComArg is not iterable: its value only exists when the task runs")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, XComArg):
            return NotImplemented
        return self.operator is other.operator and self.key == other.key

    def __hash__(self) -> int:
        return hash((id(self.operator), self.key))

    def __repr__(self) -> str:
        if self.key == XCOM_RETURN_KEY:
            return f"XComArg({self.operator!r})"
        return f"XComArg({self.operator!r}, {self.key!r})"

    # -- run time ------------------------------------------------------------
    def resolve(self, context: dict[str, Any]) -> Any:
        """The pushed value, pulled through ``context["ti"]``.

        A missing ``return_value`` (or any key of a ``multiple_outputs`` task)
        resolves to None, as in Airflow; another missing key raises
        :class:`~windvane.errors.XComNotFoundError`.
        """
        value = context["ti"].xcom_pull(task_ids=self.operator.task_id, key=self.key, default=_MISSING)
        if value is not _MISSING:
            return value
        if self.key == XCOM_RETURN_KEY or getattr(self.operator, "multiple_outputs", False):
            return None
        raise XComNotFoundError(
            f"task {self.operator.task_id!r} pushed no XCom with key {self.key!r} in this run"
        )


def iter_xcom_args(value: Any) -> Iterator[XComArg]:
    """Every XComArg in ``value``, looking inside lists, tuples, sets and dict values."""
    if isinstance(value, XComArg):
        yield value
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            yield from iter_xcom_args(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from iter_xcom_args(item)


def resolve_xcom_args(value: Any, context: dict[str, Any]) -> Any:
    """``value`` with every (nested) XComArg replaced by its pulled value; other values unchanged."""
    if isinstance(value, XComArg):
        return value.resolve(context)
    if isinstance(value, list):
        return [resolve_xcom_args(item, context) for item in value]
    if isinstance(value, tuple):
        items = [resolve_xcom_args(item, context) for item in value]
        return type(value)(*items) if hasattr(value, "_fields") else type(value)(items)
    if isinstance(value, set | frozenset):
        return type(value)(resolve_xcom_args(item, context) for item in value)
    if isinstance(value, dict):
        return {k: resolve_xcom_args(v, context) for k, v in value.items()}
    return value


def set_xcom_arg_dependencies(task: BaseOperator, *values: Any) -> None:
    """Make the producer of every XComArg found in ``values`` upstream of ``task``."""
    for arg in iter_xcom_args(list(values)):
        if arg.operator is not task:
            arg.operator.set_downstream(task)


def output_of(operator: BaseOperator) -> XComArg:
    """``operator.output``: the XComArg of the operator's ``return_value``."""
    return XComArg(operator)
