"""Structure snapshots: a reviewed JSON file per DAG, so structural changes show up in code review.

:func:`dag_structure` reduces a DAG to what a reviewer cares about: its tasks
(operator, trigger rule, retries, pool, timeouts, owner...), its edges, its
schedule and run options — not code, docs or derived priority weights. The
snapshot of DAG ``etl`` lives at ``<snapshot dir>/etl.json`` (by default
``<dags folder>/.windvane-snapshots/``, see :func:`snapshot_path`).
:func:`check_snapshot` fails with :class:`~windvane.testing.errors.SnapshotMismatchError`
listing each change (``tasks.load.trigger_rule: 'all_success' -> 'all_done'``,
``edge added: extract -> report``) when the DAG no longer matches, or when no
snapshot exists yet; with ``update=True`` it writes the file instead.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from windvane.core.authoring.dag import DAG
from windvane.core.authoring.serialize import serialize_dag
from windvane.testing.errors import SnapshotMismatchError

#: Folder (inside the DAGs folder) holding the snapshots unless told otherwise.
SNAPSHOT_FOLDER = ".windvane-snapshots"
#: Snapshot format; bump when the shape changes (a mismatch then asks for an update).
SNAPSHOT_VERSION = 1
_TASK_KEYS = (
    "operator",
    "trigger_rule",
    "retries",
    "retry_delay",
    "retry_exponential_backoff",
    "max_retry_delay",
    "execution_timeout",
    "depends_on_past",
    "pool",
    "pool_slots",
    "queue",
    "max_active_tis_per_dag",
    "sla",
    "owner",
    "task_group",
    "callbacks",
)
_DAG_KEYS = (
    "timetable",
    "timezone",
    "start_date",
    "end_date",
    "catchup",
    "max_active_runs",
    "max_active_tasks",
    "dagrun_timeout",
    "tags",
    "params",
    "callbacks",
)


def dag_structure(dag: DAG) -> dict[str, Any]:
    """The snapshot of ``dag``: plain JSON values, stable order."""
    ser = dataclasses.asdict(serialize_dag(dag))
    tasks = {
        task_id: {key: _plain(spec[key]) for key in _TASK_KEYS}
        for task_id, spec in sorted(ser["tasks"].items())
    }
    edges = sorted(f"{up} -> {task_id}" for task_id, spec in ser["tasks"].items() for up in spec["upstream"])
    return {
        "snapshot_version": SNAPSHOT_VERSION,
        "dag_id": dag.dag_id,
        **{key: _plain(ser[key]) for key in _DAG_KEYS},
        "tasks": tasks,
        "edges": edges,
    }


def snapshot_path(folder: Path, dag_id: str) -> Path:
    """Where the snapshot of ``dag_id`` lives in the snapshot ``folder``."""
    return folder / f"{dag_id}.json"


def render(structure: dict[str, Any]) -> str:
    return json.dumps(structure, indent=2, sort_keys=True) + "\n"


def check_snapshot(dag: DAG, folder: Path, *, update: bool = False) -> bool:
    """Compare ``dag`` with its snapshot in ``folder``; True if the file was (re)written.

    With ``update`` a missing or different snapshot is written; without it
    either raises :class:`SnapshotMismatchError` naming the file and each change.
    """
    path = snapshot_path(folder, dag.dag_id)
    current = dag_structure(dag)
    stored: dict[str, Any] | None = None
    if path.exists():
        try:
            stored = json.loads(path.read_text())
        except ValueError as exc:
            if not update:
                raise SnapshotMismatchError(
                    f"snapshot {path} is not valid JSON ({exc}); rewrite it with --windvane-snapshot-update"
                ) from None
    if stored == current:
        return False
    if update:
        folder.mkdir(parents=True, exist_ok=True)
        path.write_text(render(current))
        return True
    if stored is None:
        raise SnapshotMismatchError(
            f"DAG {dag.dag_id!r} has no structure snapshot at {path}: run pytest with "
            "--windvane-snapshot-update to write it, review it and commit it"
        )
    changes = structure_diff(stored, current)
    raise SnapshotMismatchError(
        f"DAG {dag.dag_id!r} no longer matches its snapshot {path} ({len(changes)} change(s)):\n"
        + "\n".join("  " + line for line in changes)
        + "\nIf the change is intended, run pytest with --windvane-snapshot-update and commit the file."
    )


def structure_diff(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Readable changes from ``old`` to ``new``: tasks and edges added or removed, values changed."""
    lines: list[str] = []
    old_tasks, new_tasks = old.get("tasks", {}), new.get("tasks", {})
    for task_id in sorted(set(old_tasks) - set(new_tasks)):
        lines.append(f"task removed: {task_id}")
    for task_id in sorted(set(new_tasks) - set(old_tasks)):
        lines.append(f"task added: {task_id} ({new_tasks[task_id].get('operator')})")
    for task_id in sorted(set(old_tasks) & set(new_tasks)):
        lines.extend(_changed(f"tasks.{task_id}", old_tasks[task_id], new_tasks[task_id]))
    old_edges, new_edges = set(old.get("edges", [])), set(new.get("edges", []))
    lines.extend(f"edge removed: {edge}" for edge in sorted(old_edges - new_edges))
    lines.extend(f"edge added: {edge}" for edge in sorted(new_edges - old_edges))
    rest_old = {k: v for k, v in old.items() if k not in ("tasks", "edges")}
    rest_new = {k: v for k, v in new.items() if k not in ("tasks", "edges")}
    lines.extend(_changed("", rest_old, rest_new))
    return lines


def _changed(prefix: str, old: Any, new: Any) -> list[str]:
    if isinstance(old, dict) and isinstance(new, dict):
        lines = []
        for key in sorted(set(old) | set(new), key=str):
            name = f"{prefix}.{key}" if prefix else str(key)
            if key not in old:
                lines.append(f"{name}: added {new[key]!r}")
            elif key not in new:
                lines.append(f"{name}: removed (was {old[key]!r})")
            else:
                lines.extend(_changed(name, old[key], new[key]))
        return lines
    return [] if old == new else [f"{prefix}: {old!r} -> {new!r}"]


def _plain(value: Any) -> Any:
    """JSON-shaped: tuples become lists, so a loaded snapshot compares equal to a fresh one."""
    return json.loads(json.dumps(value, default=str))
