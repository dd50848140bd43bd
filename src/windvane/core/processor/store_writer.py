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
  :func:`~windvane.core.timetables.ops.next_run_info` (no run so far); after
  that the scheduler keeps them.
* Each parsed file's import error is replaced or cleared and its
  ``dag_file`` row (content hash, every dag_id it defines) upserted.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pendulum import DateTime
from sqlalchemy import Connection, bindparam, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from windvane.core.serialization import SerializedDag
from windvane.core.store import dags as dag_store
from windvane.core.store._time import to_db
from windvane.core.store.import_errors import replace_import_error
from windvane.core.store.tables import dag, dag_file, import_error
from windvane.core.timetables.ops import next_run_info
from windvane.errors import StoreError

#: Most values bound in one ``IN (...)`` (SQLite's old limit is 999).
_CHUNK = 500
_SCHEDULE_KEYS = ("timetable", "start_date", "end_date", "catchup")


def _chunks(values: Sequence[str]) -> Iterator[list[str]]:
    for i in range(0, len(values), _CHUNK):
        yield list(values[i : i + _CHUNK])


@dataclass(frozen=True, slots=True)
class ParsedDag:
    """One DAG as a child reported it: the JSON text, its ``dag_hash`` and the parsed form."""

    serialized: SerializedDag
    text: str
    dag_hash: str

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


def load_file_index(conn: Connection) -> dict[str, tuple[str, list[str]]]:
    """``path -> (content_hash, dag_ids)`` of every stored ``dag_file`` row."""
    rows = conn.execute(select(dag_file.c.path, dag_file.c.content_hash, dag_file.c.dag_ids))
    return {path: (content_hash, list(ids or ())) for path, content_hash, ids in rows}


def remove_files(conn: Connection, paths: Collection[str]) -> set[str]:
    """Forget files that are gone: deactivate their DAGs, drop their import errors and dag_file rows."""
    deactivated: set[str] = set()
    for chunk in _chunks(sorted(paths)):
        stmt = update(dag).where(dag.c.is_active, dag.c.fileloc.in_(chunk)).values(is_active=False)
        deactivated.update(conn.execute(stmt.returning(dag.c.dag_id)).scalars())
        conn.execute(delete(import_error).where(import_error.c.filename.in_(chunk)))
        conn.execute(delete(dag_file).where(dag_file.c.path.in_(chunk)))
    return deactivated


def reconcile(conn: Connection, present: Collection[str]) -> set[str]:
    """At startup: forget every stored file not in ``present`` (deleted while nobody watched)."""
    keep = set(present)
    stored = set(conn.execute(select(dag.c.fileloc).where(dag.c.is_active)).scalars())
    stored.update(conn.execute(select(import_error.c.filename)).scalars())
    stored.update(conn.execute(select(dag_file.c.path)).scalars())
    return remove_files(conn, stored - keep)


class StoreWriter:
    """Applies batches of :class:`FileUpdate` (see the module docstring for the rules)."""

    def __init__(self, *, paused_at_creation: bool = False) -> None:
        self.paused_at_creation = paused_at_creation

    def write_batch(self, conn: Connection, files: Sequence[FileUpdate], now: DateTime) -> BatchResult:
        result = BatchResult()
        files = sorted(files, key=lambda f: f.path)
        paths = [f.path for f in files]
        claimed = sorted({d.dag_id for f in files for d in f.dags})
        existing = self._existing(conn, paths, claimed)
        owner = {dag_id: row[0] for dag_id, row in existing.items() if row[1]}
        # 1. Release what each file no longer defines.
        for f in files:
            defined = {d.dag_id for d in f.dags}
            for dag_id in [i for i, path in owner.items() if path == f.path and i not in defined]:
                del owner[dag_id]
                result.freed.add(dag_id)
        # 2. Claim, in path order; a dag_id owned by another file is a duplicate.
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
        result.freed -= set(owner)
        if result.freed:
            result.deactivated.update(self._deactivate(conn, sorted(result.freed)))
        # 3. DAG rows, then next_dagrun for new or re-scheduled DAGs.
        changed = [
            p.dag_id for _, p in accepted if p.dag_id in existing and existing[p.dag_id][2] != p.dag_hash
        ]
        old_schedules = self._schedules(conn, changed)
        to_schedule: list[SerializedDag] = []
        for f, parsed in accepted:
            self._upsert(conn, f, parsed, now)
            old = old_schedules.get(parsed.dag_id)
            if parsed.dag_id not in existing or (old is not None and old != _schedule_of(parsed.serialized)):
                to_schedule.append(parsed.serialized)
        _set_next_dagruns(conn, to_schedule, now)
        result.dags_written = len(accepted)
        # 4. Import errors and dag_file rows.
        for path, text in result.errors.items():
            replace_import_error(conn, path, text, now)
        clean = [p for p in paths if p not in result.errors]
        for chunk in _chunks(clean):
            conn.execute(delete(import_error).where(import_error.c.filename.in_(chunk)))
        _upsert_files(conn, files, result.defined, now)
        return result

    # -- pieces ---------------------------------------------------------------------------
    @staticmethod
    def _existing(conn: Connection, paths: list[str], dag_ids: list[str]) -> dict[str, tuple[str, bool, str]]:
        """``dag_id -> (fileloc, is_active, dag_hash)`` of rows claimed here or active in these files."""
        found: dict[str, tuple[str, bool, str]] = {}
        columns = (dag.c.dag_id, dag.c.fileloc, dag.c.is_active, dag.c.dag_hash)
        for chunk in _chunks(paths):
            stmt = select(*columns).where(dag.c.is_active, dag.c.fileloc.in_(chunk))
            found.update((i, (p, bool(a), h)) for i, p, a, h in conn.execute(stmt))
        for chunk in _chunks(dag_ids):
            stmt = select(*columns).where(dag.c.dag_id.in_(chunk))
            found.update((i, (p, bool(a), h)) for i, p, a, h in conn.execute(stmt))
        return found

    @staticmethod
    def _schedules(conn: Connection, dag_ids: list[str]) -> dict[str, tuple[Any, ...]]:
        """The schedule-defining fields of the stored versions of ``dag_ids``."""
        found: dict[str, tuple[Any, ...]] = {}
        for chunk in _chunks(dag_ids):
            for dag_id, text in conn.execute(
                select(dag.c.dag_id, dag.c.serialized).where(dag.c.dag_id.in_(chunk))
            ):
                try:
                    data = json.loads(text)
                except ValueError:
                    data = {}
                found[dag_id] = tuple(json.dumps(data.get(k), sort_keys=True) for k in _SCHEDULE_KEYS)
        return found

    @staticmethod
    def _deactivate(conn: Connection, dag_ids: list[str]) -> set[str]:
        done: set[str] = set()
        for chunk in _chunks(dag_ids):
            stmt = update(dag).where(dag.c.is_active, dag.c.dag_id.in_(chunk)).values(is_active=False)
            done.update(conn.execute(stmt.returning(dag.c.dag_id)).scalars())
        return done

    def _upsert(self, conn: Connection, f: FileUpdate, parsed: ParsedDag, now: datetime) -> None:
        sd = parsed.serialized
        paused = sd.is_paused_upon_creation
        dag_store.upsert_dag(
            conn,
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


_NEXT_COLUMNS = (
    "next_dagrun_logical_date",
    "next_dagrun_data_interval_start",
    "next_dagrun_data_interval_end",
    "next_dagrun_create_after",
)


def _set_next_dagruns(conn: Connection, dags: Sequence[SerializedDag], now: DateTime) -> None:
    """Set ``next_dagrun_*`` of ``dags`` as if they never ran (one executemany)."""
    if not dags:
        return
    rows: list[dict[str, Any]] = []
    for sd in dags:
        info = next_run_info(
            sd.timetable_obj,
            start_date=sd.start,
            end_date=sd.end,
            catchup=sd.catchup,
            last_interval=None,
            now=now,
        )
        what = f"next_dagrun of DAG {sd.dag_id!r}"
        values = (
            (info.logical_date, info.data_interval.start, info.data_interval.end, info.run_after)
            if info is not None
            else (None, None, None, None)
        )
        row: dict[str, Any] = {"b_dag_id": sd.dag_id}
        for column, value in zip(_NEXT_COLUMNS, values, strict=True):
            row[f"b_{column}"] = to_db(value, what) if value is not None else None
        rows.append(row)
    stmt = (
        update(dag)
        .where(dag.c.dag_id == bindparam("b_dag_id"))
        .values({column: bindparam(f"b_{column}") for column in _NEXT_COLUMNS})
    )
    conn.execute(stmt, rows)


def _upsert_files(
    conn: Connection, files: Sequence[FileUpdate], defined: dict[str, list[str]], now: datetime
) -> None:
    """Insert or refresh the ``dag_file`` row of each file (one executemany)."""
    if not files:
        return
    parsed_at = to_db(now, "dag_file.last_parsed_at")
    rows = [
        {
            "path": f.path,
            "content_hash": f.content_hash,
            "mtime": f.mtime,
            "last_parsed_at": parsed_at,
            "parse_duration": f.duration,
            "dag_ids": defined[f.path],
        }
        for f in files
    ]
    dialect = conn.dialect.name
    if dialect == "postgresql":
        pg_stmt = postgresql.insert(dag_file)
        conn.execute(
            pg_stmt.on_conflict_do_update(
                index_elements=["path"], set_={k: pg_stmt.excluded[k] for k in _FILE_UPDATED}
            ),
            rows,
        )
    elif dialect == "sqlite":
        lite_stmt = sqlite.insert(dag_file)
        conn.execute(
            lite_stmt.on_conflict_do_update(
                index_elements=["path"], set_={k: lite_stmt.excluded[k] for k in _FILE_UPDATED}
            ),
            rows,
        )
    else:
        raise StoreError(f"unsupported database dialect {dialect!r} (writing dag_file)")


_FILE_UPDATED = ("content_hash", "mtime", "last_parsed_at", "parse_duration", "dag_ids")


def _schedule_of(sd: SerializedDag) -> tuple[Any, ...]:
    data = {
        "timetable": sd.timetable,
        "start_date": sd.start_date,
        "end_date": sd.end_date,
        "catchup": sd.catchup,
    }
    return tuple(json.dumps(data[k], sort_keys=True) for k in _SCHEDULE_KEYS)
