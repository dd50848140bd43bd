"""Writing DAG files for processor tests, and reading back what the processor stored."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select

from windvane.core.store.engine import begin_read
from windvane.core.store.import_errors import list_import_errors
from windvane.core.store.tables import dag, dag_file

HEADER = """\
import pendulum
from windvane.core.authoring.dag import DAG, dag
from windvane.core.authoring.operators.empty import EmptyOperator

START = pendulum.datetime(2024, 1, 1, tz="UTC")
"""


def write(path: Path, body: str, *, header: bool = True) -> Path:
    """Write a DAG file; its mtime always moves forward so a re-scan notices (no sleeping)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    before = path.stat().st_mtime_ns if path.exists() else None
    path.write_text((HEADER if header else "") + textwrap.dedent(body))
    if before is not None and path.stat().st_mtime_ns <= before:
        os.utime(path, ns=(before + 1_000_000, before + 1_000_000))
    return path


def simple_dag(dag_id: str, tasks: int = 2, schedule: str = "@daily", extra: str = "") -> str:
    lines = [f'with DAG("{dag_id}", schedule="{schedule}", start_date=START, catchup=False{extra}):']
    lines += [f'    t{i} = EmptyOperator(task_id="t{i}")' for i in range(tasks)]
    if tasks > 1:
        lines.append("    " + " >> ".join(f"t{i}" for i in range(tasks)))
    return "\n".join(lines) + "\n"


def dag_rows(engine: Engine) -> dict[str, dict[str, Any]]:
    with begin_read(engine) as conn:
        return {row["dag_id"]: dict(row) for row in conn.execute(select(dag)).mappings()}


def active_ids(engine: Engine) -> set[str]:
    return {dag_id for dag_id, row in dag_rows(engine).items() if row["is_active"]}


def import_errors(engine: Engine) -> dict[str, str]:
    with begin_read(engine) as conn:
        return {e.filename: e.stacktrace for e in list_import_errors(conn)}


def file_rows(engine: Engine) -> dict[str, dict[str, Any]]:
    with begin_read(engine) as conn:
        return {row["path"]: dict(row) for row in conn.execute(select(dag_file)).mappings()}
