"""SkipMixin: how an operator asks the runner to skip some of its downstream tasks.

Branching and short-circuiting both end in :meth:`SkipMixin.skip`, which hands
the ids to ``ti.skip`` (the runner marks them *skipped*; trigger rules then
carry the skip further as usual).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from windvane.core.model.run_tracker import descendants
from windvane.errors import InvalidBranchError

if TYPE_CHECKING:
    from windvane.core.authoring.dag import DAG
    from windvane.core.authoring.taskgroup import TaskGroup
    from windvane.core.task_api.task_instance import RuntimeTaskInstance

log = logging.getLogger("windvane.task")


class SkipMixin:
    """Skip helpers for operators (mix in before
    :class:`~windvane.core.authoring.baseoperator.BaseOperator`)."""

    task_id: str
    dag: DAG | None
    downstream_task_ids: set[str]

    def skip(self, ti: RuntimeTaskInstance, task_ids: Iterable[str]) -> list[str]:
        """Ask the runner to skip ``task_ids``; returns them sorted."""
        ids = sorted(set(task_ids))
        if ids:
            log.info("Skipping tasks %s", ids)
            ti.skip(ids)
        return ids

    def skip_all_except(self, ti: RuntimeTaskInstance, branch_task_ids: Any) -> list[str]:
        """Skip every direct downstream task not chosen by ``branch_task_ids`` (Airflow's rule).

        ``branch_task_ids`` is a task id, an iterable of ids, or None (skip
        all). A task-group id stands for the group's root tasks. A direct
        downstream task that is also downstream of a chosen task (a "join")
        is not skipped. Choosing anything that is not a direct downstream
        task raises :class:`~windvane.errors.InvalidBranchError`.
        """
        chosen = self._expand_branch_ids(branch_task_ids)
        unknown = sorted(chosen - self.downstream_task_ids)
        if unknown:
            known = ", ".join(sorted(self.downstream_task_ids)) or "none"
            raise InvalidBranchError(
                f"branch task {self.task_id!r} chose {', '.join(map(repr, unknown))}, which "
                f"{'is' if len(unknown) == 1 else 'are'} not directly downstream of it "
                f"(direct downstream tasks: {known})"
            )
        keep = set(chosen) | set(descendants(self._downstream_map(), chosen))
        log.info("Following branch %s", sorted(chosen))
        return self.skip(ti, self.downstream_task_ids - keep)

    def skip_downstream(self, ti: RuntimeTaskInstance, *, recursive: bool) -> list[str]:
        """Skip the direct downstream tasks, or with ``recursive`` every task downstream."""
        if recursive:
            return self.skip(ti, descendants(self._downstream_map(), [self.task_id]))
        return self.skip(ti, self.downstream_task_ids)

    def _downstream_map(self) -> dict[str, list[str]]:
        if self.dag is None:
            return {self.task_id: sorted(self.downstream_task_ids)}
        return {tid: sorted(t.downstream_task_ids) for tid, t in self.dag.task_dict.items()}

    def _expand_branch_ids(self, branch_task_ids: Any) -> set[str]:
        if branch_task_ids is None:
            return set()
        if isinstance(branch_task_ids, str) or not isinstance(branch_task_ids, Iterable):
            branch_task_ids = [branch_task_ids]
        groups = _task_groups(self.dag)
        chosen: set[str] = set()
        for item in branch_task_ids:
            if not isinstance(item, str):
                raise InvalidBranchError(
                    f"branch task {self.task_id!r} must return task ids (str), a list of them or None; "
                    f"got {item!r} (type {type(item).__name__})"
                )
            if item in groups and (self.dag is None or item not in self.dag.task_dict):
                chosen.update(groups[item])
            else:
                chosen.add(item)
        return chosen


def _task_groups(dag: DAG | None) -> dict[str, list[str]]:
    """Group id -> ids of the group's root tasks, for every task group of ``dag``."""
    if dag is None:
        return {}
    groups: dict[str, TaskGroup] = {}
    for task in dag.task_dict.values():
        group = task.task_group
        while group is not None and group.group_id not in groups:
            groups[group.group_id] = group
            group = group.parent_group
    return {gid: [t.task_id for t in g.dependency_roots] for gid, g in groups.items()}
