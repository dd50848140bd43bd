"""The body of a check child: import one DAG file and describe what it defines.

Like the DAG processor's parse child (:mod:`windvane.core.processor.parse_child`)
it imports the file as a uniquely named module with its folder on ``sys.path``
and collects every DAG, but first it

* installs the top-level access guards (:mod:`.guards`);
* defers two definition-time checks, so that they fail their own check item
  instead of the whole file: ``DAG.validate`` (cycles, schedule) becomes a
  no-op, and a task added under an id already taken is recorded (the first
  task keeps the id) instead of raising :class:`~windvane.errors.DuplicateTaskIdError`.

Then it describes each DAG as :class:`~.facts.DagFacts` (structure,
schedule, policy-relevant arguments, the serialized DAG). It runs only in a
forked child, which exits right after: nothing here is undone.
"""

from __future__ import annotations

import gc
import importlib.util
import os
import sys
import traceback
from collections.abc import Sequence
from typing import Any

import pendulum

from windvane.core.authoring import dag_context as authoring_context
from windvane.core.authoring.baseoperator import BaseOperator
from windvane.core.authoring.dag import DAG
from windvane.core.authoring.file_modules import module_name_for
from windvane.core.authoring.operators.trigger_dagrun import TriggerDagRunOperator
from windvane.core.authoring.sensors.external_task import ExternalTaskSensor
from windvane.core.authoring.serialize import serialize_dag
from windvane.core.model.tracebacks import format_user_traceback
from windvane.core.timetables.ops import next_run_info
from windvane.errors import DuplicateTaskIdError
from windvane.testing.integrity.facts import DagFacts, FileFacts
from windvane.testing.integrity.guards import DEFAULT_SECRET_PATTERNS, AccessLog, install_guards

#: DAG id -> messages of tasks added under an id already taken (filled while the file imports).
_duplicates: dict[int, list[str]] = {}


def _defer_definition_checks() -> None:
    original_add_task = DAG.add_task

    def add_task(self: DAG, task: BaseOperator) -> None:
        try:
            original_add_task(self, task)
        except DuplicateTaskIdError as error:
            _duplicates.setdefault(id(self), []).append(str(error))
            task.dag = self  # dependencies on the duplicate land on the first task of that id

    def validate(self: DAG) -> None:
        return None

    DAG.add_task = add_task  # type: ignore[method-assign]
    DAG.validate = validate  # type: ignore[method-assign]


def user_traceback(error: BaseException, user_root: str) -> str:
    """The traceback of ``error`` with only the frames of files under ``user_root`` (the DAG folder)."""
    root = os.path.abspath(user_root) + os.sep
    exc = traceback.TracebackException.from_exception(error)
    seen: set[int] = set()
    todo = [exc]
    while todo:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        frames = [f for f in current.stack if os.path.abspath(f.filename).startswith(root)]
        current.stack = traceback.StackSummary.from_list(frames)
        todo += [e for e in (current.__cause__, current.__context__, *(current.exceptions or ())) if e]
    return "".join(exc.format()).rstrip("\n")


def _import(path: str, user_root: str) -> tuple[list[DAG], str | None]:
    with open(path, "rb") as handle:
        source = handle.read()
    folder = os.path.dirname(path)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    name = module_name_for(path)
    registered = authoring_context.start_collecting()
    module_globals: dict[str, Any] = {}
    try:
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None:
            return [], f"{path}: cannot be imported as a Python module"
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        module_globals = module.__dict__
        exec(compile(source, path, "exec", dont_inherit=True), module_globals)
    except BaseException as error:  # user code may raise anything, SystemExit included
        return [], user_traceback(error, user_root)
    finally:
        authoring_context.stop_collecting()
    found: list[DAG] = list(registered)
    for value in list(module_globals.values()):
        if isinstance(value, DAG) and not any(value is d for d in found):
            found.append(value)
    return found, None


def _line_of(dag: DAG, path: str) -> int:
    """The line where the DAG is named in its file (its id as a string, or its ``@dag`` function),
    else the line of its first task; 0 if unknown."""
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            lines = handle.read().splitlines()
    except OSError:
        lines = []
    needles = (f'"{dag.dag_id}"', f"'{dag.dag_id}'", f"def {dag.dag_id}(")
    for number, text in enumerate(lines, start=1):
        if any(needle in text for needle in needles):
            return number
    for task in dag.task_dict.values():
        site, _, line = task.defined_at.rpartition(":")
        if site == path and line.isdigit():
            return int(line)
    return 0


def _first_run(dag: DAG) -> str | None:
    if not dag.timetable.can_be_scheduled or dag.start_date is None:
        return None
    far = pendulum.instance(dag.start_date).add(years=20)
    info = next_run_info(
        dag.timetable,
        start_date=dag.start_date,
        end_date=dag.end_date,
        catchup=True,
        last_interval=None,
        now=far,
    )
    return None if info is None else info.logical_date.isoformat()


def _schedule_facts(dag: DAG) -> dict[str, Any]:
    error: str | None = None
    first: str | None = None
    try:
        dag.timetable.validate()
        first = _first_run(dag)
    except Exception as exc:
        error = str(exc)
    has_start = dag.start_date is not None or any(t.start_date for t in dag.task_dict.values())
    return {
        "schedule": dag.timetable.summary,
        "schedulable": bool(dag.timetable.can_be_scheduled),
        "start_date": dag.start_date.isoformat() if dag.start_date else ("task" if has_start else None),
        "end_date": dag.end_date.isoformat() if dag.end_date else None,
        "timetable_error": error,
        "first_run": first,
    }


def describe_dag(dag: DAG, path: str) -> DagFacts:
    """The facts of one DAG (run in the child, on the live object)."""
    serialized: str | None = None
    serialize_error: str | None = None
    try:
        serialized = serialize_dag(dag).to_json()
    except Exception as exc:
        serialize_error = format_user_traceback(exc)
    tasks = dag.task_dict.values()
    return DagFacts(
        dag_id=dag.dag_id,
        line=_line_of(dag, path),
        upstream={t.task_id: sorted(t.upstream_task_ids) for t in tasks},
        duplicate_task_ids=list(_duplicates.get(id(dag), [])),
        default_args={k: repr(v) for k, v in sorted(dag.default_args.items())},
        owners={t.task_id: str(t.owner) for t in tasks},
        retries={t.task_id: int(t.retries) for t in tasks},
        tags=[str(tag) for tag in dag.tags],
        serialized=serialized,
        serialize_error=serialize_error,
        targets=cross_dag_targets(dag),
        **_schedule_facts(dag),
    )


def cross_dag_targets(dag: DAG) -> list[dict[str, Any]]:
    """What the DAG's ExternalTaskSensors and TriggerDagRunOperators point at (templated targets,
    known only at run time, are left out)."""
    found: list[dict[str, Any]] = []
    for task in dag.task_dict.values():
        target: dict[str, Any]
        if isinstance(task, ExternalTaskSensor):
            target = {
                "dag_id": task.external_dag_id,
                "task_ids": list(task.external_task_ids or []),
                "group_id": task.external_task_group_id,
            }
        elif isinstance(task, TriggerDagRunOperator):
            target = {"dag_id": task.trigger_dag_id, "task_ids": [], "group_id": None}
        else:
            continue
        values = [target["dag_id"], *target["task_ids"], target["group_id"] or ""]
        if any("{{" in str(value) or "{%" in str(value) for value in values):
            continue
        found.append({"task_id": task.task_id, "operator": type(task).__name__, **target})
    return found


def inspect_file(
    path: str, *, user_root: str, secret_patterns: Sequence[str] = DEFAULT_SECRET_PATTERNS
) -> FileFacts:
    """Import ``path`` in *this* process, guarded and with deferred checks, and describe it."""
    log = AccessLog(user_root, f"{os.path.relpath(path, user_root)}:0")
    install_guards(log, secret_patterns)
    _defer_definition_checks()
    dags, error = _import(path, user_root)
    described: list[DagFacts] = []
    for dag in dags:
        dag.fileloc = path
        described.append(describe_dag(dag, path))
    return FileFacts(path, error=error, dags=described, accesses=list(log.accesses))


def child_body(path: str, user_root: str, secret_patterns: Sequence[str]) -> bytes:
    """What a forked check child returns: the encoded :class:`FileFacts` of ``path``."""
    gc.disable()  # short-lived: skip collections, keep copy-on-write pages shared
    try:
        facts = inspect_file(path, user_root=user_root, secret_patterns=secret_patterns)
    except BaseException as error:  # reading the file failed, or describing a DAG broke badly
        facts = FileFacts(path, error=f"{path}: {format_user_traceback(error)}")
    return facts.encode()
