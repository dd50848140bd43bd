"""TaskGroup: a named group of tasks with prefixed ids, usable on either side of ``>>``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from windvane.core.authoring import dag_context as authoring_context
from windvane.core.authoring.dependencies import DependencyMixin
from windvane.errors import DagDefinitionError, DuplicateTaskIdError

if TYPE_CHECKING:
    from types import TracebackType

    from windvane.core.authoring.baseoperator import BaseOperator
    from windvane.core.authoring.dag import DAG


class TaskGroup(DependencyMixin):
    """Group tasks under ``group_id``; task ids become ``group_id.task_id`` (nested groups stack).

    ``group >> task`` attaches the group's leaves (tasks with no downstream
    inside the group); ``task >> group`` attaches its roots.
    """

    def __init__(
        self,
        group_id: str,
        *,
        prefix_group_id: bool = True,
        tooltip: str = "",
        default_args: Mapping[str, Any] | None = None,
        parent_group: TaskGroup | None = None,
        dag: DAG | None = None,
    ) -> None:
        if dag is None and parent_group is not None:
            dag = parent_group.dag
        dag = dag or authoring_context.current_dag()
        if dag is None:
            raise DagDefinitionError(f"TaskGroup {group_id!r} must be created inside a DAG or given dag=")
        self.dag: DAG = dag
        self.parent_group = parent_group or authoring_context.current_group(dag)
        self.prefix_group_id = prefix_group_id
        self.tooltip = tooltip
        self.default_args = dict(default_args or {})
        self._label = group_id
        self.group_id = self.parent_group.child_id(group_id) if self.parent_group else group_id
        self.children: dict[str, BaseOperator | TaskGroup] = {}
        if self.group_id in dag.task_group_ids:
            raise DuplicateTaskIdError(f"group id {self.group_id!r} is used twice in DAG {dag.dag_id!r}")
        dag.task_group_ids.add(self.group_id)
        if self.parent_group is not None:
            self.parent_group.children[self.group_id] = self

    def child_id(self, label: str) -> str:
        """The full id of a child labelled ``label``."""
        if not self.prefix_group_id:
            return self.parent_group.child_id(label) if self.parent_group else label
        return f"{self.group_id}.{label}"

    @property
    def effective_default_args(self) -> dict[str, Any]:
        merged = dict(self.parent_group.effective_default_args) if self.parent_group else {}
        merged.update(self.default_args)
        return merged

    def add(self, task: BaseOperator) -> None:
        self.children[task.task_id] = task

    def iter_tasks(self) -> list[BaseOperator]:
        from windvane.core.authoring.baseoperator import BaseOperator

        tasks: list[BaseOperator] = []
        for child in self.children.values():
            if isinstance(child, BaseOperator):
                tasks.append(child)
            else:
                tasks.extend(child.iter_tasks())
        return tasks

    @property
    def dependency_roots(self) -> list[BaseOperator]:
        tasks = self.iter_tasks()
        ids = {t.task_id for t in tasks}
        return [t for t in tasks if not (t.upstream_task_ids & ids)]

    @property
    def dependency_leaves(self) -> list[BaseOperator]:
        tasks = self.iter_tasks()
        ids = {t.task_id for t in tasks}
        return [t for t in tasks if not (t.downstream_task_ids & ids)]

    def __enter__(self) -> TaskGroup:
        authoring_context.push_group(self)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        authoring_context.pop_group()

    def __repr__(self) -> str:
        return f"<TaskGroup: {self.group_id}>"
