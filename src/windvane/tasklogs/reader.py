"""The one call that reads a try's log: here if the file is here, else from the worker that ran it.

``windvane tasks logs`` and the API's log endpoint both call
:func:`read_try_log`. The file is looked for in this machine's log folder
first (the local executor, or a log folder shared with the workers); when it
is not there and a database connection and :class:`~.remote.RemoteLogs` are
given, the try's recorded ``hostname`` (the task instance row for its current
try, the state-change journal for an earlier one) names the worker to fetch it
from, by byte ranges so a reader can tail a running try.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection

from windvane.core.store import listing
from windvane.errors import NotFoundError
from windvane.tasklogs.files import TryLog, latest_attempt, log_path, read_chunk, task_folder
from windvane.tasklogs.remote import RemoteLogs

#: The most bytes one read returns unless the caller asks for fewer.
DEFAULT_LIMIT = 1 << 20


@dataclass(frozen=True, slots=True)
class LogChunk:
    """Part of a try's log: ``content`` from byte ``offset`` to ``next_offset`` of ``size``, and
    where it was read (a path on this machine, or the worker's URL)."""

    try_number: int
    content: str
    offset: int
    next_offset: int
    size: int
    source: str

    @property
    def complete(self) -> bool:
        """Nothing more to read now (a running try's log may grow later)."""
        return self.next_offset >= self.size


def read_try_log(
    folder: Path,
    dag_id: str,
    run_id: str,
    task_id: str,
    try_number: int | None = None,
    *,
    offset: int = 0,
    limit: int = DEFAULT_LIMIT,
    conn: Connection | None = None,
    remote: RemoteLogs | None = None,
) -> LogChunk:
    """Up to ``limit`` bytes of the log of try ``try_number`` (None: the latest try) from ``offset``.

    :class:`NotFoundError` naming the try when no log is found; :class:`~windvane.errors.LogFetchError`
    when it is on a worker that could not serve it. Without ``conn`` only this machine is looked at.
    """
    ti, unknown = None, None
    if conn is not None:
        try:
            ti = listing.get_task_instance(conn, listing.run_pk_of(conn, dag_id, run_id), task_id)
        except NotFoundError as exc:  # a log file may still be here (a try run without a row)
            unknown = exc
    try:
        if try_number is None:
            try_number = _latest(folder, dag_id, run_id, task_id, ti.try_number if ti is not None else 0)
        chunk = read_chunk(folder, dag_id, run_id, task_id, try_number, offset, limit)
        return LogChunk(
            try_number, source=str(log_path(folder, dag_id, run_id, task_id, try_number)), **chunk
        )
    except NotFoundError as exc:
        looked = _looked_at(folder, dag_id, run_id, task_id, try_number)
        if unknown is not None:
            raise NotFoundError(f"{unknown}; {looked}") from None
        if conn is None or ti is None or remote is None:
            raise NotFoundError(f"{exc}: {looked}") from None
    assert try_number is not None
    wanted = TryLog(dag_id, run_id, task_id, try_number)
    hostname = ti.hostname if ti.try_number == try_number else _journaled_host(conn, ti.id, try_number)
    if not hostname:
        raise NotFoundError(f"{wanted.missing()}: {looked}, and no worker host is recorded for it")
    chunk = remote.fetch(hostname, wanted, offset, limit)
    return LogChunk(try_number, source=remote.url(hostname, wanted, chunk["offset"], limit), **chunk)


def _latest(folder: Path, dag_id: str, run_id: str, task_id: str, recorded: int) -> int:
    local = latest_attempt(folder, dag_id, run_id, task_id) or 0
    latest = max(local, recorded)
    if latest < 1:
        raise NotFoundError(
            f"no log for task {task_id!r} in run {run_id!r} of DAG {dag_id!r}: it has not run"
        )
    return latest


def _looked_at(folder: Path, dag_id: str, run_id: str, task_id: str, try_number: int | None) -> str:
    name = f"attempt={try_number}.log" if try_number else "attempt=<n>.log"
    return f"{task_folder(folder, dag_id, run_id, task_id) / name} does not exist"


def _journaled_host(conn: Connection, ti_id: int, try_number: int) -> str | None:
    hosts = [t.hostname for t in listing.finished_tries(conn, ti_id) if t.try_number == try_number]
    return hosts[-1] if hosts else None
