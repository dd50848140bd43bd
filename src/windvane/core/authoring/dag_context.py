"""The "current DAG" and "current task group" of ``with DAG(...)`` blocks.

It also lets the DAG processor see DAGs a file builds without binding them to
a module global: while collecting, every DAG whose ``with`` block completes
(which includes each call of a ``@dag`` function) is appended to a list; and leave the
first-run check out of DAG validation (:func:`defer_first_run`), which it makes itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from windvane.core.authoring.dag import DAG
    from windvane.core.authoring.taskgroup import TaskGroup

_dags: list[DAG] = []
_groups: list[TaskGroup] = []
_collected: list[DAG] | None = None
_first_run_deferred = False


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


def start_collecting() -> list[DAG]:
    """Collect from now on each DAG whose ``with`` block completes; returns the list filled in."""
    global _collected
    _collected = []
    return _collected


def stop_collecting() -> None:
    global _collected
    _collected = None


def register_dag(dag: DAG) -> None:
    """Called by ``DAG.__exit__``; a no-op unless someone is collecting."""
    if _collected is not None and not any(d is dag for d in _collected):
        _collected.append(dag)


def defer_first_run(deferred: bool) -> bool:
    """Whether :meth:`DAG.validate <windvane.core.authoring.dag.DAG.validate>` leaves out the
    check that the DAG's first run can be computed, from now on; returns the previous setting.

    The DAG processor defers it while it parses a file: it checks every stored DAG's first run
    itself, once per distinct schedule and start (:mod:`windvane.core.processor.first_runs`),
    naming the DAG and its file, where a parse child would compute it for every DAG again."""
    global _first_run_deferred
    previous, _first_run_deferred = _first_run_deferred, deferred
    return previous


def first_run_deferred() -> bool:
    """See :func:`defer_first_run`."""
    return _first_run_deferred
