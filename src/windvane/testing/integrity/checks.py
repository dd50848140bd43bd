"""The integrity checks: plain functions from facts (and a :class:`Policy`) to a :class:`Verdict`.

Per file (:data:`FILE_CHECKS`): ``import`` (imports without error within the
parse timeout), ``defines_dags`` (at least one DAG: a helper module belongs in
``.windvaneignore``), ``top_level_access`` (no database, network or secret
access at import time), ``parse_time`` (under the budget).

Per DAG (:data:`DAG_CHECKS`): ``task_ids`` (unique), ``cycles`` (none; the
path is shown), ``schedule`` (start_date when scheduled, end_date after it,
the timetable valid and producing at least one run), ``default_args`` (the
team's policy: owner, retries, tags; only when a policy is set).

Per folder (:data:`FOLDER_CHECKS`): ``unique_dag_ids`` (no dag_id in two
files; both named), ``cross_dag_targets`` (the DAG, tasks and task group every
``ExternalTaskSensor`` waits for, and the DAG every ``TriggerDagRunOperator``
triggers, are defined in the folder; templated targets are left to run time).

The pytest plugin and ``windvane dags check`` call these same functions.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import pendulum

from windvane.core.authoring.dag import topological_order
from windvane.errors import CycleError
from windvane.testing.integrity.facts import DagFacts, FileFacts

#: Task owner when none was given (``BaseOperator``'s default).
DEFAULT_OWNER = "windvane"


@dataclass(frozen=True)
class Policy:
    """What the team requires beyond Windvane's own rules.

    ``parse_budget``: seconds a file may take to parse; ``require_owner``: every
    task has an owner other than the default; ``min_retries``: every task
    retries at least this often; ``required_tags``: tags every DAG carries;
    ``allowed_tags``: when not empty, the only tags a DAG may carry.
    """

    parse_budget: float = 5.0
    require_owner: bool = False
    min_retries: int = 0
    required_tags: tuple[str, ...] = ()
    allowed_tags: tuple[str, ...] = ()

    @property
    def checks_default_args(self) -> bool:
        return self.require_owner or self.min_retries > 0 or bool(self.required_tags or self.allowed_tags)


@dataclass(frozen=True)
class Verdict:
    """``status`` is ``"passed"``, ``"failed"`` or ``"skipped"``; ``message`` says why."""

    status: str
    message: str = ""

    @property
    def failed(self) -> bool:
        return self.status == "failed"


PASSED = Verdict("passed")


def fail(message: str) -> Verdict:
    return Verdict("failed", message)


def _skip_if_broken(facts: FileFacts) -> Verdict | None:
    return Verdict("skipped", "the file did not import (see its import check)") if facts.error else None


# -- per file -------------------------------------------------------------------------------------------
def check_import(facts: FileFacts, policy: Policy) -> Verdict:
    if facts.error is None:
        return PASSED
    if facts.accesses:  # a blocked access stopped the import: say that first, then the traceback
        blocked = "\n".join(f"{a.describe()} (blocked)" for a in facts.accesses)
        return fail(
            f"{blocked}\nDAG files must not do I/O when they are parsed: move it into a task."
            f"\n\n{facts.error}"
        )
    return fail(facts.error)


def check_defines_dags(facts: FileFacts, policy: Policy) -> Verdict:
    if (skipped := _skip_if_broken(facts)) is not None:
        return skipped
    if facts.dags:
        return PASSED
    return fail(
        "the file defines no DAG: the DAG processor parses it for nothing. Define a DAG, or list the "
        "file in .windvaneignore (one regular expression per line) if it is a helper module"
    )


def check_top_level_access(facts: FileFacts, policy: Policy) -> Verdict:
    if (skipped := _skip_if_broken(facts)) is not None:
        return skipped
    if not facts.accesses:
        return PASSED
    lines = "\n".join(f"  {a.describe()}" for a in facts.accesses)
    return fail(
        f"the file reaches outside at import time (it runs on every parse; move this into a task):\n{lines}"
    )


def check_parse_time(facts: FileFacts, policy: Policy) -> Verdict:
    if (skipped := _skip_if_broken(facts)) is not None:
        return skipped
    if facts.duration <= policy.parse_budget:
        return PASSED
    return fail(
        f"parsing took {facts.duration:.2f} s, over the budget of {policy.parse_budget:g} s "
        "(windvane_parse_budget): move slow work out of the top level"
    )


FileCheck = Callable[[FileFacts, Policy], Verdict]
FILE_CHECKS: Mapping[str, FileCheck] = {
    "import": check_import,
    "defines_dags": check_defines_dags,
    "top_level_access": check_top_level_access,
    "parse_time": check_parse_time,
}


# -- per DAG --------------------------------------------------------------------------------------------
def check_task_ids(dag: DagFacts, policy: Policy) -> Verdict:
    if not dag.duplicate_task_ids:
        return PASSED
    return fail("\n".join(dag.duplicate_task_ids))


def check_cycles(dag: DagFacts, policy: Policy) -> Verdict:
    try:
        topological_order(dag.dag_id, dag.upstream)
    except CycleError as error:
        return fail(str(error))
    return PASSED


def check_schedule(dag: DagFacts, policy: Policy) -> Verdict:
    where = f"DAG {dag.dag_id!r} (schedule {dag.schedule!r})"
    if dag.timetable_error is not None:
        return fail(f"{where}: {dag.timetable_error}")
    if not dag.schedulable:
        return PASSED
    if dag.start_date is None:
        return fail(f"{where} is scheduled but has no start_date (set it, or default_args['start_date'])")
    if dag.end_date is not None and dag.start_date != "task" and _after(dag.start_date, dag.end_date):
        return fail(f"{where}: end_date {dag.end_date} is before start_date {dag.start_date}")
    if dag.first_run is None and dag.start_date != "task":
        span = f"between {dag.start_date} and {dag.end_date}" if dag.end_date else f"after {dag.start_date}"
        return fail(f"{where} never produces a run {span}")
    return PASSED


def _after(first: str, second: str) -> bool:
    return bool(pendulum.parse(first) > pendulum.parse(second))  # type: ignore[operator]


def check_default_args(dag: DagFacts, policy: Policy) -> Verdict:
    problems: list[str] = []
    if policy.require_owner:
        unowned = sorted(t for t, owner in dag.owners.items() if not owner or owner == DEFAULT_OWNER)
        if unowned:
            problems.append(f"tasks without an owner: {', '.join(unowned)} (set default_args['owner'])")
    if policy.min_retries > 0:
        few = sorted(f"{t} ({n})" for t, n in dag.retries.items() if n < policy.min_retries)
        if few:
            problems.append(f"tasks retrying fewer than {policy.min_retries} times: {', '.join(few)}")
    missing = [t for t in policy.required_tags if t not in dag.tags]
    if missing:
        problems.append(f"missing required tags: {', '.join(missing)}")
    if policy.allowed_tags:
        unknown = [t for t in dag.tags if t not in policy.allowed_tags]
        if unknown:
            problems.append(
                f"tags not allowed: {', '.join(unknown)} (allowed: {', '.join(policy.allowed_tags)})"
            )
    if not problems:
        return PASSED
    return fail(f"DAG {dag.dag_id!r} breaks the team's policy:\n" + "\n".join(f"  {p}" for p in problems))


DagCheck = Callable[[DagFacts, Policy], Verdict]
DAG_CHECKS: Mapping[str, DagCheck] = {
    "task_ids": check_task_ids,
    "cycles": check_cycles,
    "schedule": check_schedule,
    "default_args": check_default_args,
}


def dag_checks_for(policy: Policy) -> list[str]:
    """The DAG checks that apply under ``policy`` (``default_args`` only when a policy is set)."""
    return [name for name in DAG_CHECKS if name != "default_args" or policy.checks_default_args]


# -- per folder -----------------------------------------------------------------------------------------
def check_unique_dag_ids(files: Mapping[str, list[str]], relpath: Callable[[str], str]) -> Verdict:
    """``files``: dag_id -> files defining it."""
    clashes = [
        f"  DAG {dag_id!r} is defined in {' and '.join(relpath(p) for p in paths)}"
        if len(set(paths)) > 1
        else f"  DAG {dag_id!r} is defined {len(paths)} times in {relpath(paths[0])}"
        for dag_id, paths in sorted(files.items())
        if len(paths) > 1
    ]
    if not clashes:
        return PASSED
    return fail(
        "the same dag_id is defined more than once; the DAG processor keeps only one of them:\n"
        + "\n".join(clashes)
    )


def check_cross_dag_targets(facts: Mapping[str, FileFacts], relpath: Callable[[str], str]) -> Verdict:
    """``facts``: every file's facts. Each cross-DAG target must exist in the folder."""
    dags: dict[str, DagFacts] = {}
    for file_facts in facts.values():
        for dag in file_facts.dags:
            dags.setdefault(dag.dag_id, dag)
    problems = []
    for path, file_facts in facts.items():
        for dag in file_facts.dags:
            for target in dag.targets:
                where = (
                    f"  {relpath(path)}: DAG {dag.dag_id!r} task {target['task_id']!r} ({target['operator']})"
                )
                problem = _target_problem(target, dags)
                if problem:
                    problems.append(f"{where} {problem}")
    if not problems:
        return PASSED
    return fail("cross-DAG targets that no DAG file in the folder defines:\n" + "\n".join(problems))


def _target_problem(target: Mapping[str, object], dags: Mapping[str, DagFacts]) -> str | None:
    dag_id = str(target["dag_id"])
    found = dags.get(dag_id)
    if found is None:
        return f"points at DAG {dag_id!r}, which no file defines"
    task_ids = target.get("task_ids") or []
    missing = [t for t in task_ids if t not in found.upstream] if isinstance(task_ids, list) else []
    if missing:
        return f"waits for task(s) {missing} that DAG {dag_id!r} does not have"
    group = target.get("group_id")
    if group and not any(t.startswith(f"{group}.") for t in found.upstream):
        return f"waits for task group {group!r} that DAG {dag_id!r} does not have"
    return None


FOLDER_CHECKS = ("unique_dag_ids", "cross_dag_targets")
