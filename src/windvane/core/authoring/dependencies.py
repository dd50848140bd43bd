"""``>>`` / ``<<`` and friends, shared by operators, task groups and XCom results.

Anything that can stand on either side of ``>>`` implements
:class:`DependencyMixin`: it names the tasks an edge attaches to when it is
the upstream side (``leaves``) and when it is the downstream side (``roots``).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TypeAlias

if TYPE_CHECKING:
    from windvane.core.authoring.baseoperator import BaseOperator

Relatives: TypeAlias = "DependencyMixin | Sequence[DependencyMixin]"


class DependencyMixin:
    """Mixin giving ``a >> b``, ``a << b``, ``[a, b] >> c`` and set_upstream/set_downstream."""

    @property
    def dependency_roots(self) -> list[BaseOperator]:
        """Tasks an edge attaches to when this object is *downstream*."""
        raise NotImplementedError

    @property
    def dependency_leaves(self) -> list[BaseOperator]:
        """Tasks an edge attaches to when this object is *upstream*."""
        raise NotImplementedError

    def set_downstream(self, other: Relatives) -> None:
        for item in _as_list(other):
            _connect(self, item)

    def set_upstream(self, other: Relatives) -> None:
        for item in _as_list(other):
            _connect(item, self)

    def __rshift__(self, other: Any) -> Any:
        self.set_downstream(other)
        return other

    def __lshift__(self, other: Any) -> Any:
        self.set_upstream(other)
        return other

    def __rrshift__(self, other: Any) -> Any:
        # [a, b] >> self
        self.set_upstream(other)
        return self

    def __rlshift__(self, other: Any) -> Any:
        # [a, b] << self
        self.set_downstream(other)
        return self


def _as_list(value: Any) -> list[DependencyMixin]:
    items = list(value) if isinstance(value, list | tuple | set) else [value]
    for item in items:
        if not isinstance(item, DependencyMixin):
            raise TypeError(
                f"cannot set a dependency on {item!r} (type {type(item).__name__}); "
                "expected an operator, a task group or a @task result"
            )
    return items


def _connect(upstream: DependencyMixin, downstream: DependencyMixin) -> None:
    for up in upstream.dependency_leaves:
        for down in downstream.dependency_roots:
            up.add_downstream_task(down)


def chain(*elements: Any) -> None:
    """Chain tasks: ``chain(a, [b, c], d)`` is ``a >> [b, c] >> d``.

    Two adjacent lists must have equal length and are paired element-wise, as in Airflow.
    """
    for left, right in itertools.pairwise(elements):
        if isinstance(left, list | tuple) and isinstance(right, list | tuple):
            if len(left) != len(right):
                raise ValueError(
                    f"chain() cannot pair lists of different lengths ({len(left)} and {len(right)})"
                )
            for a, b in zip(left, right, strict=True):
                _as_list(a)[0].set_downstream(b)
        elif isinstance(left, list | tuple):
            for a in _as_list(left):
                a.set_downstream(right)
        else:
            _as_list(left)[0].set_downstream(right)


def cross_downstream(from_tasks: Sequence[Any], to_tasks: Any) -> None:
    """Make every task in ``from_tasks`` upstream of every task in ``to_tasks``."""
    for task in _as_list(list(from_tasks)):
        task.set_downstream(to_tasks)
