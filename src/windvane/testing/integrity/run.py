"""Which checks a parsed folder gets (:func:`plan`), what each one says (:func:`evaluate`), and a whole run.

Check ids are relative to the DAG folder and stable: ``etl.py::import``,
``etl.py::<dag_id>::cycles``, ``::unique_dag_ids``. The pytest plugin makes
one item per :class:`CheckSpec` (its node id is the folder's path plus this
id); ``windvane dags check`` calls :func:`run_checks`. Both judge through
:func:`evaluate`, so they give the same verdicts.
"""

from __future__ import annotations

from dataclasses import dataclass

from windvane.testing.integrity.baseline import Baseline
from windvane.testing.integrity.checks import (
    DAG_CHECKS,
    FILE_CHECKS,
    FOLDER_CHECKS,
    PASSED,
    Policy,
    Verdict,
    check_cross_dag_targets,
    check_unique_dag_ids,
    dag_checks_for,
    fail,
)
from windvane.testing.integrity.folder import DagFolder

#: The folder check reporting baseline entries that name no check.
BASELINE_CHECK = "baseline"


@dataclass(frozen=True)
class CheckSpec:
    """One check to run: on a file (``dag_id`` None), on one of its DAGs, or on the folder (``path`` None)."""

    check_id: str
    check: str
    path: str | None = None
    dag_id: str | None = None
    line: int = 0


@dataclass(frozen=True)
class CheckResult:
    """A check's outcome: ``passed``, ``failed``, ``skipped``, ``xfailed`` (failed, in the
    baseline) or ``xpassed`` (in the baseline but passing: a failure, remove the entry)."""

    check_id: str
    status: str
    message: str = ""
    reason: str = ""

    @property
    def is_failure(self) -> bool:
        return self.status in ("failed", "xpassed")


def headline(message: str) -> str:
    """The line of a verdict that says it: a traceback's last line, otherwise the first."""
    lines = [line for line in message.strip("\n").splitlines() if line.strip()]
    if not lines:
        return ""
    return lines[-1].strip() if message.startswith(("Traceback", '  File "')) else lines[0].strip()


def plan_file(folder: DagFolder, path: str, policy: Policy) -> list[CheckSpec]:
    """The checks of one file: the file checks, then each DAG's (first definition of an id only)."""
    rel = folder.relpath(path)
    specs = [CheckSpec(f"{rel}::{name}", name, path) for name in FILE_CHECKS]
    seen: set[str] = set()
    for dag in folder.facts[path].dags:
        if dag.dag_id in seen:
            continue  # the same id twice in one file: unique_dag_ids reports it
        seen.add(dag.dag_id)
        for name in dag_checks_for(policy):
            specs.append(CheckSpec(f"{rel}::{dag.dag_id}::{name}", name, path, dag.dag_id, dag.line))
    return specs


def plan_folder(folder: DagFolder, baseline: Baseline | None) -> list[CheckSpec]:
    specs = [CheckSpec(f"::{name}", name) for name in FOLDER_CHECKS]
    if baseline is not None:
        specs.append(CheckSpec(f"::{BASELINE_CHECK}", BASELINE_CHECK))
    return specs


def plan(folder: DagFolder, policy: Policy, baseline: Baseline | None = None) -> list[CheckSpec]:
    """Every check of the folder, files in order, folder checks last."""
    specs = [spec for path in folder.files for spec in plan_file(folder, path, policy)]
    return specs + plan_folder(folder, baseline)


def evaluate(
    spec: CheckSpec,
    folder: DagFolder,
    policy: Policy,
    baseline: Baseline | None = None,
    known_ids: list[str] | None = None,
) -> Verdict:
    """The verdict of one check (``known_ids``: every planned id, for the baseline check)."""
    if spec.path is None:
        if spec.check == BASELINE_CHECK:
            stale = baseline.unknown(known_ids or []) if baseline is not None else []
            if not stale:
                return PASSED
            return fail(
                f"baseline entries naming no check (the file or DAG is gone or renamed; remove them "
                f"from {baseline.source if baseline else 'the baseline'}):\n"
                + "\n".join(f"  {entry}" for entry in stale)
            )
        if spec.check == "cross_dag_targets":
            return check_cross_dag_targets(folder.facts, folder.relpath)
        return check_unique_dag_ids(folder.dag_files, folder.relpath)
    facts = folder.facts[spec.path]
    if spec.dag_id is None:
        return FILE_CHECKS[spec.check](facts, policy)
    dag = next(d for d in facts.dags if d.dag_id == spec.dag_id)
    return DAG_CHECKS[spec.check](dag, policy)


def run_checks(folder: DagFolder, policy: Policy, baseline: Baseline | None = None) -> list[CheckResult]:
    """Every check of the folder with the baseline applied."""
    specs = plan(folder, policy, baseline)
    known = [s.check_id for s in specs]
    results: list[CheckResult] = []
    for spec in specs:
        verdict = evaluate(spec, folder, policy, baseline, known)
        reason = baseline.reason(spec.check_id) if baseline is not None else None
        status = verdict.status
        message = verdict.message
        if reason is not None and status == "failed":
            status = "xfailed"
        elif reason is not None and status == "passed":
            status = "xpassed"
            message = f"listed in the baseline ({reason}) but passes now: remove the entry"
        results.append(CheckResult(spec.check_id, status, message, reason or ""))
    return results
