"""A try's log file on this machine: where it is, which tries have one, and reads by byte ranges."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from windvane.core.worker.runner import path_under
from windvane.errors import NotFoundError

_ATTEMPT = re.compile(r"^attempt=(\d+)\.log$")


@dataclass(frozen=True, slots=True)
class TryLog:
    """The try whose log is read: its DAG, run, task and try number."""

    dag_id: str
    run_id: str
    task_id: str
    try_number: int

    def missing(self) -> str:
        return (
            f"no log for try {self.try_number} of task {self.task_id!r} in run {self.run_id!r} "
            f"of DAG {self.dag_id!r}"
        )


def task_folder(folder: Path, dag_id: str, run_id: str, task_id: str) -> Path:
    """The folder holding every try's log of one task instance (checked to stay under ``folder``)."""
    return Path(path_under(str(folder), f"dag_id={dag_id}", f"run_id={run_id}", f"task_id={task_id}"))


def log_path(folder: Path, dag_id: str, run_id: str, task_id: str, try_number: int) -> Path:
    """Where the worker writes the log of a try (:func:`windvane.core.worker.runner.log_path_for`)."""
    return task_folder(folder, dag_id, run_id, task_id) / f"attempt={try_number}.log"


def latest_attempt(folder: Path, dag_id: str, run_id: str, task_id: str) -> int | None:
    """The highest try number with a log file in ``folder`` (None: none there)."""
    where = task_folder(folder, dag_id, run_id, task_id)
    if not where.is_dir():
        return None
    found = [int(m[1]) for p in where.iterdir() if (m := _ATTEMPT.match(p.name))]
    return max(found, default=None)


def read_chunk(
    folder: Path, dag_id: str, run_id: str, task_id: str, try_number: int, offset: int, limit: int
) -> dict[str, Any]:
    """``content`` from byte ``offset`` (at most ``limit`` bytes, cut back to a whole UTF-8
    character), ``offset``, ``next_offset`` and the file's ``size``; NotFoundError naming the try."""
    path = log_path(folder, dag_id, run_id, task_id, try_number)
    try:
        with open(path, "rb") as handle:
            size = handle.seek(0, 2)
            start = min(offset, size)
            handle.seek(start)
            data = handle.read(limit)
    except (FileNotFoundError, NotADirectoryError):
        raise NotFoundError(TryLog(dag_id, run_id, task_id, try_number).missing()) from None
    data = data[: _whole(data)] if len(data) == limit else data
    text = data.decode("utf-8", errors="replace")
    return {"content": text, "offset": start, "next_offset": start + len(data), "size": size}


def _whole(data: bytes) -> int:
    """The length of ``data`` without a UTF-8 character cut at its end."""
    for back in range(1, min(4, len(data)) + 1):
        byte = data[-back]
        if byte < 0x80:
            return len(data)
        if byte >= 0xC0:  # a lead byte: is its character complete?
            needed = 2 if byte < 0xE0 else 3 if byte < 0xF0 else 4
            return len(data) if back >= needed else len(data) - back
    return len(data)
