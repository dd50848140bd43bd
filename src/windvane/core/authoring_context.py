"""The "current DAG" and "current task group" of ``with DAG(...)`` blocks."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from windvane.core.dag import DAG
    from windvane.core.taskgroup import TaskGroup

_dags: list[DAG] = []
_groups: list[TaskGroup] = []


def push_dag(dag: DAG) -> None:
    _dags.append(dag)


def pop_dag() -> None:
    _dags.pop()


def current_dag() -> DAG | None:
    return _dags[-1] if _dags else None


def push_group(group: TaskGroup) -> None:
    _groups.append(group)


def pop_group() -> None:
    _groups.pop()


def current_group(dag: DAG | None) -> TaskGroup | None:
    """The innermost open task group belonging to ``dag``, if any."""
    for group in reversed(_groups):
        if group.dag is dag:
            return group
    return None
