"""Writing parse results to the metadata database, a batch per transaction.

Rules (all within one transaction per batch, files taken in path order):

* A DAG a file no longer defines (removed from it, or the file failed to
  import) is deactivated; its rows and history stay.
* A ``dag_id`` belongs to the file whose DAG row is active. Another file
  defining the same id gets an import error naming both files and its DAG is
  ignored, so ownership never flips between scans. Between two files new in
  the same batch the first in path order wins.
* A new DAG, or one whose timetable, start_date, end_date or catchup changed,
  gets its ``next_dagrun_*`` columns from
  :func:`~windvane.core.timetables.ops.next_run_info` (no run so far), the
  run computed when it was checked (:attr:`ParsedDag.first_run`); after that
  the scheduler keeps them. A batch's DAG rows are upserted in one executemany.
* Each parsed file's import error is replaced or cleared and its
  ``dag_file`` row (content hash, every dag_id it defines) upserted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pendulum import DateTime
from sqlalchemy import Connection

from windvane.core.model.serialized_dag import NextRun, SerializedDag
from windvane.core.processor.first_runs import compute_first_run, worded
from windvane.core.processor.store_ops import (
    clear_import_errors,
    deactivate,
    existing_dags,
    schedule_key,
    set_next_dagruns,
    stored_schedule_keys,
    upsert_file_rows,
)
from windvane.core.store import dags as dag_store
from windvane.core.store.import_errors import replace_import_error


@dataclass(frozen=True, slots=True)
class ParsedDag:
    """One DAG as a child reported it: the JSON text, its ``dag_hash`` and the parsed form."""

    serialized: SerializedDag
    text: str
    dag_hash: str
    #: Its first next run (as if it never ran), computed once by :func:`first_run_or_problem` when
    #: it was checked and reused if the DAG is new or re-scheduled (None: computed when written).
    first_run: NextRun | None = None

    @property
    def dag_id(self) -> str:
        return self.serialized.dag_id


@dataclass(frozen=True, slots=True)
class FileUpdate:
    """One parsed file: its DAGs (already validated) and its own import error, if any."""

    path: str
    content_hash: str
    mtime: float | None
    duration: float
    dags: list[ParsedDag]
    error: str | None = None


@dataclass
class BatchResult:
    """What a batch changed. ``errors``: final import error per file (duplicates included);
    ``defined``: every dag_id each file defines; ``freed``: ids left without an active owner."""

    dags_written: int = 0
    deactivated: set[str] = field(default_factory=set)
    errors: dict[str, str] = field(default_factory=dict)
    defined: dict[str, list[str]] = field(default_factory=dict)
    freed: set[str] = field(default_factory=set)


def first_run_or_problem(sd: SerializedDag, now: DateTime) -> NextRun | str:
    """``sd``'s first next run (as if it never ran) at ``now``, or why ``sd`` cannot be stored
    (its summary or first run cannot be computed).

    Run per DAG before a batch is written, so that one DAG's arithmetic fails only its file; the
    run it returns is stored as is (:attr:`ParsedDag.first_run`), not computed a second time. The
    processor asks :class:`~windvane.core.processor.first_runs.FirstRuns` instead, which computes
    it once per schedule.
    """
    return worded(sd, compute_first_run(sd, now))


class StoreWriter:
    """Applies batches of :class:`FileUpdate` (see the module docstring for the rules)."""

    def __init__(self, *, paused_at_creation: bool = False) -> None:
        self.paused_at_creation = paused_at_creation

    def write_batch(self, conn: Connection, files: Sequence[FileUpdate], now: DateTime) -> BatchResult:
        """Apply ``files`` (the rules of the module doc) in the caller's transaction: release what
        files no longer define, claim in path order, write DAG rows, write file rows."""
        result = BatchResult()
        files = sorted(files, key=lambda f: f.path)
        paths = [f.path for f in files]
        claimed = sorted({d.dag_id for f in files for d in f.dags})
        existing = existing_dags(conn, paths, claimed)
        owner = {dag_id: row[0] for dag_id, row in existing.items() if row[1]}
        _release_undefined(files, owner, result)
        accepted = _claim(files, owner, result)
        result.freed -= set(owner)
        if result.freed:
            result.deactivated.update(deactivate(conn, sorted(result.freed)))
        self._write_dags(conn, accepted, existing, now)
        result.dags_written = len(accepted)
        _write_files(conn, files, result, now)
        return result

    def _write_dags(
        self,
        conn: Connection,
        accepted: list[tuple[FileUpdate, ParsedDag]],
        existing: dict[str, tuple[str, bool, str]],
        now: DateTime,
    ) -> None:
        """Upsert the DAG rows, then set ``next_dagrun`` for new or re-scheduled DAGs."""
        changed = [
            p.dag_id for _, p in accepted if p.dag_id in existing and existing[p.dag_id][2] != p.dag_hash
        ]
        old_schedules = stored_schedule_keys(conn, changed)
        to_schedule: list[tuple[SerializedDag, NextRun | None]] = []
        rows: list[dict[str, Any]] = []
        for f, parsed in accepted:
            rows.append(self._row(f, parsed, now))
            old = old_schedules.get(parsed.dag_id)
            if parsed.dag_id not in existing or (old is not None and old != schedule_key(parsed.serialized)):
                to_schedule.append((parsed.serialized, parsed.first_run))
        dag_store.upsert_dags(conn, rows)  # one executemany for the batch, not one statement a DAG
        set_next_dagruns(conn, to_schedule, now)

    def _row(self, f: FileUpdate, parsed: ParsedDag, now: datetime) -> dict[str, Any]:
        sd = parsed.serialized
        paused = sd.is_paused_upon_creation
        return dag_store.parsed_dag_row(
            dag_id=sd.dag_id,
            fileloc=f.path,
            dag_hash=parsed.dag_hash,
            serialized=parsed.text,
            last_parsed_at=now,
            timetable_summary=sd.timetable_obj.summary,
            description=sd.description,
            tags=sd.tags,
            owners=", ".join(sd.owners) or None,
            paused_on_create=self.paused_at_creation if paused is None else paused,
        )


def _release_undefined(files: Sequence[FileUpdate], owner: dict[str, str], result: BatchResult) -> None:
    """Step 1: a file gives up the dag_ids it owns but no longer defines (they are freed)."""
    for f in files:
        defined = {d.dag_id for d in f.dags}
        for dag_id in [i for i, path in owner.items() if path == f.path and i not in defined]:
            del owner[dag_id]
            result.freed.add(dag_id)


def _claim(
    files: Sequence[FileUpdate], owner: dict[str, str], result: BatchResult
) -> list[tuple[FileUpdate, ParsedDag]]:
    """Step 2: files claim their DAGs in path order; a dag_id owned by another file is a duplicate
    (an import error of the later file). Returns the accepted DAGs; fills ``result.defined`` and
    ``result.errors``."""
    accepted: list[tuple[FileUpdate, ParsedDag]] = []
    for f in files:
        problems = [f.error] if f.error else []
        for parsed in f.dags:
            current = owner.get(parsed.dag_id)
            if current is not None and current != f.path:
                problems.append(
                    f"DAG id {parsed.dag_id!r} is already defined in {current}; the DAG of the same id "
                    f"in {f.path} is ignored (a dag_id must be unique across DAG files)"
                )
                continue
            owner[parsed.dag_id] = f.path
            accepted.append((f, parsed))
        result.defined[f.path] = [d.dag_id for d in f.dags]
        if problems:
            result.errors[f.path] = "\n\n".join(problems)
    return accepted


def _write_files(conn: Connection, files: Sequence[FileUpdate], result: BatchResult, now: DateTime) -> None:
    """Step 4: replace or clear each file's import error and upsert its ``dag_file`` row."""
    for path, text in result.errors.items():
        replace_import_error(conn, path, text, now)
    clear_import_errors(conn, [f.path for f in files if f.path not in result.errors])
    file_rows = [
        {
            "path": f.path,
            "content_hash": f.content_hash,
            "mtime": f.mtime,
            "parse_duration": f.duration,
            "dag_ids": result.defined[f.path],
        }
        for f in files
    ]
    upsert_file_rows(conn, file_rows, now)
