"""Idempotency: the same work run twice for one logical date must leave the same results.

:func:`check_idempotent` runs a whole DAG run twice (``task_id=None``), or
runs the DAG once and then the task ``task_id`` again with the same upstream
XComs — what clearing a task in production does — and compares what was
produced after each: the XComs, the files under the watched folders, the rows
of the watched tables (:mod:`windvane.testing.effects`). A difference raises
:class:`~windvane.testing.errors.NotIdempotentError` listing each one (which
XCom, file or row; first vs second value). An upsert by partition passes, an
append does not.

This is what ``@pytest.mark.idempotent`` and the ``--windvane-idempotency``
items of :mod:`windvane.testing.plugin_extras` run.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pendulum

from windvane.core.authoring.dag import DAG
from windvane.core.model.states import TaskInstanceState as S
from windvane.core.worker.in_process import MemoryXComs
from windvane.testing.effects import Effects, Watch, capture, diff_effects
from windvane.testing.errors import NotIdempotentError, RunFailedError
from windvane.testing.run import RunResult, run_dag, run_one_task
from windvane.testing.sandbox import WindvaneEnv


@dataclass(frozen=True)
class IdempotencyReport:
    """The two runs compared and their snapshots; ``differences`` is empty when idempotent."""

    first: RunResult
    second: RunResult
    first_effects: Effects
    second_effects: Effects
    differences: tuple[str, ...]


def xcom_texts(
    results: list[RunResult] | tuple[RunResult, ...], *, prefix_dag: bool = False
) -> dict[str, str]:
    """The XCom texts of ``results`` as ``"task.key"`` (``"dag.task.key"`` with ``prefix_dag``)."""
    texts: dict[str, str] = {}
    for result in results:
        for task_id, outcome in result.tasks.items():
            for key, text in outcome.xcom_texts.items():
                name = f"{result.dag_id}.{task_id}.{key}" if prefix_dag else f"{task_id}.{key}"
                texts[name] = text
    return texts


def compare_runs(
    first: RunResult, second: RunResult, first_effects: Effects, second_effects: Effects
) -> IdempotencyReport:
    return IdempotencyReport(
        first, second, first_effects, second_effects, tuple(diff_effects(first_effects, second_effects))
    )


def check_idempotent(
    dag: DAG,
    logical_date: pendulum.DateTime,
    *,
    task_id: str | None = None,
    watch: Watch | None = None,
    conf: Mapping[str, Any] | None = None,
    variables: Mapping[str, object] | None = None,
    connections: Mapping[str, Mapping[str, Any]] | None = None,
    env: WindvaneEnv | None = None,
    raise_on_difference: bool = True,
) -> IdempotencyReport:
    """Run twice for ``logical_date`` and compare (see the module doc).

    The first run must succeed (for ``task_id``: that task must succeed or
    skip), else :class:`RunFailedError` says why: an idempotency verdict on a
    failed run means nothing.
    """
    watch = watch or Watch()
    common: dict[str, Any] = {"conf": conf, "variables": variables, "connections": connections, "env": env}
    first = run_dag(dag, logical_date, **common)
    if task_id is None:
        first.assert_success()
        first_effects = capture(watch, xcom_texts([first]))
        second = run_dag(dag, logical_date, **common)
        second.assert_success()
        second_effects = capture(watch, xcom_texts([second]))
        what = f"DAG {dag.dag_id!r}"
    else:
        target = first.tasks.get(task_id)
        if target is None or target.state not in (S.SUCCESS, S.SKIPPED):
            first.assert_success()
            raise RunFailedError(f"task {task_id!r} of DAG {dag.dag_id!r} did not run in the first run")
        first_effects = capture(watch, xcom_texts([_only(first, task_id)]))
        upstream = MemoryXComs()
        for up_id, outcome in first.tasks.items():
            if up_id != task_id:
                upstream.store(up_id, dict(outcome.xcom_texts))
        second = run_one_task(dag, task_id, logical_date, xcoms=upstream, **common)
        second.assert_success()
        second_effects = capture(watch, xcom_texts([second]))
        what = f"task {task_id!r} of DAG {dag.dag_id!r}"
    report = compare_runs(first, second, first_effects, second_effects)
    if report.differences and raise_on_difference:
        raise NotIdempotentError(not_idempotent_message(what, logical_date, report.differences))
    return report


def not_idempotent_message(what: str, logical_date: pendulum.DateTime, differences: tuple[str, ...]) -> str:
    return (
        f"{what} is not idempotent: run twice for logical date {logical_date.isoformat()}, "
        f"the second run left different results ({len(differences)} difference(s)):\n"
        + "\n".join("  " + line for line in differences)
    )


def _only(result: RunResult, task_id: str) -> RunResult:
    return RunResult(
        result.dag_id, result.run_id, result.logical_date, result.state, {task_id: result.tasks[task_id]}
    )
