"""``windvane db clean --older-than DAYS [--dry-run]``: delete the history older than a cutoff.

What goes, in one transaction (log folders after it commits):

* DAG runs in a finished state (success, failed) that ended before the cutoff
  (started, or were due, if they never ended), with their task instances and
  XComs; queued and running runs are never touched;
* the runs' task-log folders ``<logs>/dag_id=<d>/run_id=<r>/``;
* state-journal entries recorded before the cutoff that every registered
  journal consumer has read (a consumer that was down loses nothing);
* what each plug-in of the entry-point group ``windvane.cleaners`` deletes
  (the alerting plug-in: finished outbox rows, ended silences, SLA misses of
  deleted runs): ``cleaner(conn, older_than, dry_run) -> {table: rows}``.

``--dry-run`` counts the same rows, in the same queries, and deletes nothing.
"""

from __future__ import annotations

import argparse
import logging
import shutil
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, delete, func, select

from windvane.cli.base import EXIT_OK, Cli
from windvane.cli.wiring import log_folder, open_engine
from windvane.core.store import journal
from windvane.core.store._time import to_db
from windvane.core.store.engine import begin_read, begin_write
from windvane.core.store.tables import dag_run as run_t
from windvane.core.store.tables import task_instance as ti_t
from windvane.core.store.tables import xcom as xcom_t
from windvane.core.worker.runner import path_under
from windvane.errors import WindvaneError
from windvane.plugins import CLEANERS_GROUP, entry_points_of, load_entry_point

log = logging.getLogger(__name__)

#: Ids per ``IN (...)`` (well under every database's bind-parameter limit).
_CHUNK = 500
_FINISHED_RUNS = ("success", "failed")

Cleaner = Callable[[Connection, datetime, bool], dict[str, int]]


def clean(cli: Cli, args: argparse.Namespace) -> int:
    cutoff = datetime.now(UTC) - timedelta(days=args.older_than)
    before = f"before {cutoff:%Y-%m-%d %H:%M:%S} UTC"
    verb = "Would delete" if args.dry_run else "Deleted"
    cleaners = _cleaners()
    with open_engine(cli.settings) as engine:
        transaction = begin_read if args.dry_run else begin_write
        with transaction(engine) as conn:
            runs = _old_runs(conn, cutoff)
            counts = _delete_runs(conn, [pk for pk, _, _ in runs], dry_run=args.dry_run)
            entries = (journal.count_prunable if args.dry_run else journal.prune)(conn, older_than=cutoff)
            held = journal.consumer_cursors(conn)
            plugins = {name: cleaner(conn, cutoff, args.dry_run) for name, cleaner in cleaners}
    folders = _log_folders(log_folder(cli.settings), [(d, r) for _, d, r in runs])
    if not args.dry_run:
        for folder in folders:
            shutil.rmtree(folder, ignore_errors=True)
    cli.out.line(
        f"{verb} {_n(counts['dag_run'], 'DAG run')} that finished {before}, with "
        f"{_n(counts['task_instance'], 'task instance')}, {_n(counts['xcom'], 'XCom')} and "
        f"{_n(len(folders), 'log folder')}."
    )
    cli.out.line(f"{verb} {entries} journal entr{'y' if entries == 1 else 'ies'} recorded {before}.")
    if held:
        slowest = min(held, key=lambda name: held[name])
        cli.out.line(f"Entries after id {held[slowest]} are kept until consumer {slowest!r} reads them.")
    for name, tables in plugins.items():
        detail = ", ".join(f"{table} {n}" for table, n in tables.items()) or "nothing"
        cli.out.line(f"{verb} rows of plug-in {name!r} from {before}: {detail}.")
    return EXIT_OK


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _old_runs(conn: Connection, cutoff: datetime) -> list[tuple[int, str, str]]:
    """``(pk, dag_id, run_id)`` of finished runs that ended before ``cutoff``."""
    ended = func.coalesce(run_t.c.end_date, run_t.c.start_date, run_t.c.logical_date)
    stmt = select(run_t.c.id, run_t.c.dag_id, run_t.c.run_id).where(
        run_t.c.state.in_(_FINISHED_RUNS), ended < to_db(cutoff, "db clean cutoff")
    )
    return [(pk, dag_id, run_id) for pk, dag_id, run_id in conn.execute(stmt.order_by(run_t.c.id))]


def _delete_runs(conn: Connection, pks: Sequence[int], *, dry_run: bool) -> dict[str, int]:
    """Rows of xcom, task_instance and dag_run belonging to ``pks``: deleted, or only counted."""
    counts = {"xcom": 0, "task_instance": 0, "dag_run": 0}
    for start in range(0, len(pks), _CHUNK):
        chunk = pks[start : start + _CHUNK]
        for table, column in ((xcom_t, xcom_t.c.dag_run_id), (ti_t, ti_t.c.dag_run_id), (run_t, run_t.c.id)):
            where = column.in_(chunk)
            if dry_run:
                counts[table.name] += conn.execute(
                    select(func.count()).select_from(table).where(where)
                ).scalar_one()
            else:
                counts[table.name] += conn.execute(delete(table).where(where)).rowcount
    return counts


def _log_folders(root: Path, runs: Sequence[tuple[str, str]]) -> list[Path]:
    """The existing task-log folders of ``runs``; a name that would leave the logs folder is skipped."""
    folders = []
    for dag_id, run_id in runs:
        try:
            folder = Path(path_under(str(root), f"dag_id={dag_id}", f"run_id={run_id}"))
        except WindvaneError as exc:
            log.warning("db clean: not removing the logs of run %s of DAG %s: %s", run_id, dag_id, exc)
            continue
        if folder.is_dir():
            folders.append(folder)
    return folders


def _cleaners() -> list[tuple[str, Cleaner]]:
    """The plug-ins' cleaners (entry-point group ``windvane.cleaners``), loaded before anything is deleted."""
    found: list[tuple[str, Any]] = []
    for entry in entry_points_of(CLEANERS_GROUP):
        found.append((entry.name, load_entry_point(entry, CLEANERS_GROUP)))
    return found
