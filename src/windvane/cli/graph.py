"""A serialized DAG's tasks as an indented tree (``dags show``, ``tasks list --tree``) or as DOT.

The tree starts at the root tasks and follows downstream edges. A task
reachable on several paths is expanded the first time only; later it shows
``(see above)``, so a wide diamond stays small.
"""

from __future__ import annotations

import json

from rich.text import Text
from rich.tree import Tree

from windvane.core.model.serialized_dag import SerializedDag, TaskSpec


def _label(spec: TaskSpec) -> str:
    extras = [spec.operator]
    if spec.trigger_rule != "all_success":
        extras.append(f"trigger_rule={spec.trigger_rule}")
    if spec.retries:
        extras.append(f"retries={spec.retries}")
    if spec.pool != "default_pool":
        extras.append(f"pool={spec.pool}")
    return f"{spec.task_id} ({', '.join(extras)})"


def roots(dag: SerializedDag) -> list[str]:
    """Tasks without upstream tasks, in the DAG's (topological) order."""
    return [task_id for task_id, spec in dag.tasks.items() if not spec.upstream]


def task_tree(dag: SerializedDag) -> Tree:
    """The tasks of ``dag`` as a rich :class:`Tree` under the DAG id."""
    tree = Tree(Text(f"{dag.dag_id} ({len(dag.tasks)} tasks)"))
    shown: set[str] = set()

    def add(parent: Tree, task_id: str) -> None:
        spec = dag.tasks[task_id]
        if task_id in shown and spec.downstream:
            parent.add(Text(f"{task_id} (see above)"))
            return
        shown.add(task_id)
        node = parent.add(Text(_label(spec)))
        for child in spec.downstream:
            add(node, child)

    for root in roots(dag):
        add(tree, root)
    return tree


def _quote(text: str) -> str:
    return json.dumps(text)  # a DOT ID in double quotes: JSON escaping is a subset of what DOT accepts


def to_dot(dag: SerializedDag) -> str:
    """The DAG in Graphviz DOT: one node per task (labelled with its operator), one edge per dependency."""
    lines = [f"digraph {_quote(dag.dag_id)} {{", "  rankdir=LR;", "  node [shape=box, style=rounded];"]
    for task_id, spec in dag.tasks.items():
        lines.append(f"  {_quote(task_id)} [label={_quote(task_id + chr(10) + spec.operator)}];")
    for task_id, spec in dag.tasks.items():
        for child in spec.downstream:
            lines.append(f"  {_quote(task_id)} -> {_quote(child)};")
    lines.append("}")
    return "\n".join(lines)
