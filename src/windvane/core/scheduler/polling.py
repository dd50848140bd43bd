"""Reading what other processes changed, and (re)loading runs into the scheduler's book.

Polled every ``poll_interval_seconds``: DAG rows (new or changed serialized
DAGs, pauses), pool sizes, queued runs (manual triggers, backfills, clears)
and the state of tries the book adopted from a stopped scheduler. Each
function reads rows and hands them to a :class:`~windvane.core.scheduler.book.Book`
transition; what follows goes into the pass's ``work``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import pendulum
from sqlalchemy import Connection, Engine

from windvane.core.model import readiness
from windvane.core.model.clock import Clock
from windvane.core.model.serialized_dag import SerializedDag
from windvane.core.model.states import DagRunState
from windvane.core.scheduler import db
from windvane.core.scheduler.book import Book
from windvane.core.scheduler.config import SchedulerConfig
from windvane.core.scheduler.coordination import Coordinator
from windvane.core.scheduler.model import ActiveRun, DagEntry
from windvane.core.scheduler.pass_work import PassWork
from windvane.core.scheduler.quarantine import TRANSIENT_DB_ERRORS, Quarantine
from windvane.core.store import dag_runs, run_owners, task_instances
from windvane.core.store.tables import dag_run as run_t

log = logging.getLogger("windvane.scheduler")


def poll(
    engine: Engine,
    book: Book,
    config: SchedulerConfig,
    clock: Clock,
    work: PassWork,
    quarantine: Quarantine | None = None,
    coordinator: Coordinator | None = None,
    *,
    take_over: bool = True,
) -> None:
    """Re-read DAGs, pools, queued runs and adopted tries; with several schedulers (``coordinator``)
    and ``take_over``, notice dead ones and take over their runs."""
    with engine.begin() as conn:
        refresh_dags(conn, book, clock.now(), work, quarantine)
        if quarantine is not None and quarantine.released:
            _load_released(conn, book, config, clock.now(), work, quarantine, coordinator)
        if coordinator is not None and take_over:
            _take_over(conn, book, clock.now(), work, quarantine, coordinator)
        book.pool_capacity = db.pool_capacities(conn)
        _start_queued_runs(conn, book, config, clock, work, quarantine, coordinator)
        _sync_adopted(conn, book, work)


def _take_over(
    conn: Connection,
    book: Book,
    now: pendulum.DateTime,
    work: PassWork,
    quarantine: Quarantine | None,
    coordinator: Coordinator,
) -> None:
    """Dead schedulers' jobs are marked failed, their queued tries reset; the runs nobody alive
    drives are claimed and loaded (their running tries adopted)."""
    coordinator.recover(conn, now)
    claimed = [pk for pk in coordinator.claim(conn) if pk not in book.runs]
    if claimed:
        log.warning("took over %d running run(s) no live scheduler drove", len(claimed))
        _load_isolated(conn, book, dag_runs.get_runs(conn, claimed), now, work, quarantine)


def refresh_dags(
    conn: Connection,
    book: Book,
    now: pendulum.DateTime,
    work: PassWork,
    quarantine: Quarantine | None = None,
) -> None:
    """Take new and changed DAGs (parsing only changed ones); reload runs whose DAG structure changed.

    Quarantined DAGs are left out; one whose serialized form does not read is quarantined. Nothing
    is read but the ``dag_change`` row while its ``seq`` has not moved since the last read (an
    idle scheduler's cost does not grow with the number of DAGs); when it moved, only the rows
    stamped since (``change_seq``), or every row after a delete or on the first read. The counter
    is read before the rows: a change committed in between is read now and again next time, never
    missed.
    """
    change = db.dag_change(conn)
    last = book.dag_change_seq
    if change is not None and change.seq == last:
        return
    # Every row: on the first read, after a delete, or when the counter went back (a reset database).
    whole = change is None or last is None or change.deleted_seq > last or change.seq < last
    rows = db.dag_rows(conn, None if whole else last)
    if quarantine is not None and quarantine.held:
        rows = [r for r in rows if not quarantine.holds(r.dag_id, r.dag_hash)]
    known = book.dags
    stale = [r.dag_id for r in rows if r.dag_id not in known or known[r.dag_id].dag_hash != r.dag_hash]

    def unreadable(dag_id: str, error: Exception) -> None:
        if quarantine is None:
            raise error
        row = next(r for r in rows if r.dag_id == dag_id)
        quarantine.isolate(dag_id, row.dag_hash, row.fileloc, "reading its serialized form", error, now)

    loaded = db.load_serialized(conn, stale, on_error=unreadable) if stale else {}
    fresh: dict[str, DagEntry] = {}
    for r in rows:
        old = known.get(r.dag_id)
        dag = loaded.get(r.dag_id) or (old.dag if old else None)
        if dag is None:
            continue
        fresh[r.dag_id] = DagEntry(
            r.dag_id,
            r.dag_hash,
            r.is_paused,
            r.is_active,
            dag,
            r.next_logical_date,
            r.next_interval_start,
            r.next_interval_end,
            r.next_create_after,
        )
    if quarantine is not None and quarantine.held:  # unreadable just now: left out like the others
        for dag_id in [d for d in fresh if d in quarantine.held]:
            del fresh[dag_id]
            if not whole:
                book.dags.pop(dag_id, None)
    reload = book.replace_dags(fresh, set(loaded)) if whole else book.update_dags(fresh, set(loaded))
    book.dag_change_seq = None if change is None else change.seq
    if reload:
        log.info("DAG structure changed; reloading %d active run(s)", len(reload))
        _load_isolated(conn, book, dag_runs.get_runs(conn, reload), now, work, quarantine)


def load_running_runs(
    engine: Engine,
    book: Book,
    config: SchedulerConfig,
    clock: Clock,
    work: PassWork,
    quarantine: Quarantine | None = None,
    coordinator: Coordinator | None = None,
) -> None:
    """At start: adopt every run already running (a previous scheduler's, or ours before a restart);
    with several schedulers (``coordinator``), those nobody alive drives, claimed first."""
    with engine.begin() as conn:
        refresh_dags(conn, book, clock.now(), work, quarantine)
        if coordinator is not None:
            coordinator.claim(conn)
        rows = _running_rows(conn, config, coordinator)
        _load_isolated(conn, book, rows, clock.now(), work, quarantine)


def _running_rows(
    conn: Connection, config: SchedulerConfig, coordinator: Coordinator | None = None
) -> list[dag_runs.RunRow]:
    only = config.only_runs
    owned = None if coordinator is None else run_t.c.scheduled_by_job_id == coordinator.job_id
    rows = dag_runs.runs_in_states(
        conn, [DagRunState.RUNNING.value], run_pks=list(only) if only is not None else None, where=owned
    )
    return rows if only is not None else [r for r in rows if r.run_type in config.run_types]


def _load_released(
    conn: Connection,
    book: Book,
    config: SchedulerConfig,
    now: pendulum.DateTime,
    work: PassWork,
    quarantine: Quarantine,
    coordinator: Coordinator | None = None,
) -> None:
    """DAGs that left the quarantine: load their running runs the book does not hold (those it
    could not load while the DAG was quarantined, e.g. at a restart)."""
    released, quarantine.released = quarantine.released, set()
    rows = _running_rows(conn, config, coordinator)
    rows = [r for r in rows if r.dag_id in released and r.id not in book.runs]
    if rows:
        _load_isolated(conn, book, rows, now, work, quarantine)


def _start_queued_runs(
    conn: Connection,
    book: Book,
    config: SchedulerConfig,
    clock: Clock,
    work: PassWork,
    quarantine: Quarantine | None = None,
    coordinator: Coordinator | None = None,
) -> None:
    only = config.only_runs
    free = None if coordinator is None else run_owners.free_for(coordinator.job_id)
    queued = dag_runs.runs_in_states(
        conn, [DagRunState.QUEUED.value], run_pks=list(only) if only is not None else None, where=free
    )
    if only is None:
        queued = [r for r in queued if r.run_type in config.run_types]
    if not queued:
        return
    if coordinator is None or only is not None:  # a backfill's runs: only it starts them
        active = book.active_runs_per_dag()
        budget = len(queued)
    else:  # every scheduler's running runs count; this one starts its share of the waiting
        run_owners.lock(conn, run_owners.START_LOCK_KEY)
        active = run_owners.active_runs_per_dag(conn)
        budget = coordinator.budget(conn, len(queued), sum(active.values()), len(book.runs))
    to_start = []
    for row in queued:
        entry = book.dags.get(row.dag_id)
        if entry is None:
            continue
        reloading = row.id in book.runs
        if not reloading:
            limit = config.backfill_max_active_runs if only is not None else None
            limit = limit or entry.dag.max_active_runs
            if budget <= 0 or not readiness.runs_have_room(active.get(row.dag_id, 0), limit):
                continue
            active[row.dag_id] = active.get(row.dag_id, 0) + 1
            budget -= 1
        to_start.append(row)
    if not to_start:
        return
    now = clock.now()
    owner = None if coordinator is None else coordinator.job_id
    if quarantine is None:
        _apply(book, _start_and_prepare(conn, book, to_start, now, owner), now, work)
        return
    prepared = _prepare_isolated(
        conn, book, to_start, lambda rows: _start_and_prepare(conn, book, rows, now, owner),
        "starting its run", quarantine, now,
    )  # fmt: skip
    _apply(book, prepared, now, work)


def _start_and_prepare(
    conn: Connection,
    book: Book,
    rows: Sequence[dag_runs.RunRow],
    now: pendulum.DateTime,
    owner: int | None = None,
) -> list[_Prepared]:
    """Mark queued ``rows`` running (driven by the scheduler job ``owner``, when several share the
    database) and make their task instances (the database half of loading)."""
    free = None if owner is None else run_owners.free_for(owner)
    started = [row.id for row in rows if dag_runs.start_run(conn, row.id, now, owner=owner, free=free)]
    return _prepare(conn, book, dag_runs.get_runs(conn, started), now) if started else []


def _sync_adopted(conn: Connection, book: Book, work: PassWork) -> None:
    if book.adopted:
        book.sync_adopted(db.ti_states(conn, list(book.adopted)), work)


def load_runs(
    conn: Connection, book: Book, rows: Sequence[dag_runs.RunRow], now: pendulum.DateTime, work: PassWork
) -> list[ActiveRun]:
    """Load running runs from their rows into ``book`` (creating missing task instances first).

    Transitions are added to ``work``; the caller commits them.
    """
    return _apply(book, _prepare(conn, book, rows, now), now, work)


def _load_isolated(
    conn: Connection,
    book: Book,
    rows: Sequence[dag_runs.RunRow],
    now: pendulum.DateTime,
    work: PassWork,
    quarantine: Quarantine | None,
) -> None:
    """:func:`load_runs`, but a run whose DAG's data makes loading fail (a new task's row the
    database refuses, a structure the tracker cannot build) quarantines that DAG: the others load."""
    if quarantine is None:
        load_runs(conn, book, rows, now, work)
        return
    prepared = _prepare_isolated(
        conn, book, rows, lambda some: _prepare(conn, book, some, now),
        "loading its running run", quarantine, now,
    )  # fmt: skip
    for row, dag, tis in prepared:
        if row.dag_id not in book.dags:
            continue
        try:
            book.load_run(row, dag, tis, now, work)
        except TRANSIENT_DB_ERRORS:
            raise
        except Exception as exc:
            _isolate(book, quarantine, row, "loading its running run", exc, now)


def _prepare_isolated(
    conn: Connection,
    book: Book,
    rows: Sequence[dag_runs.RunRow],
    prepare: Callable[[Sequence[dag_runs.RunRow]], list[_Prepared]],
    step: str,
    quarantine: Quarantine,
    now: pendulum.DateTime,
) -> list[_Prepared]:
    """``prepare(rows)`` in a savepoint; if it fails, row by row, each in its own savepoint, and the
    DAG of a row that still fails is quarantined (``step`` + the run id names what was being done)."""
    try:
        with conn.begin_nested():
            return prepare(rows)
    except TRANSIENT_DB_ERRORS:
        raise
    except Exception:  # some run's DAG is at fault: one by one, quarantine that DAG
        prepared: list[_Prepared] = []
        for row in rows:
            if row.dag_id not in book.dags:
                continue
            try:
                with conn.begin_nested():
                    prepared += prepare([row])
            except TRANSIENT_DB_ERRORS:
                raise
            except Exception as exc:
                _isolate(book, quarantine, row, step, exc, now)
        return prepared


def _isolate(
    book: Book,
    quarantine: Quarantine,
    row: dag_runs.RunRow,
    step: str,
    error: Exception,
    now: pendulum.DateTime,
) -> None:
    entry = book.dags.pop(row.dag_id)
    where = f"{step} {row.run_id}"
    quarantine.isolate(row.dag_id, entry.dag_hash, entry.dag.fileloc, where, error, now)


_Prepared = tuple[dag_runs.RunRow, SerializedDag, list[db.TiRow]]


def _prepare(
    conn: Connection, book: Book, rows: Sequence[dag_runs.RunRow], now: pendulum.DateTime
) -> list[_Prepared]:
    """The database half of loading: each running run with its DAG and task instances (missing
    ones created). The book is not touched, so a failure here leaves it as it was."""
    rows = [r for r in rows if r.state == DagRunState.RUNNING.value]
    tis_by_run = db.task_instances(conn, [r.id for r in rows])
    prepared: list[_Prepared] = []
    for row in rows:
        entry = book.dags.get(row.dag_id)
        if entry is None:
            log.error("run %s: DAG %r is not in the database; leaving it alone", row.run_id, row.dag_id)
            continue
        dag = entry.dag
        tis = tis_by_run.get(row.id, [])
        if {t.task_id for t in tis} != set(dag.tasks):
            task_instances.ensure_task_instances(conn, row.id, row.run_id, dag, now)
            tis = db.task_instances(conn, [row.id]).get(row.id, [])
        prepared.append((row, dag, tis))
    return prepared


def _apply(book: Book, prepared: list[_Prepared], now: pendulum.DateTime, work: PassWork) -> list[ActiveRun]:
    """The in-memory half of loading: the runs go into ``book``."""
    return [book.load_run(row, dag, tis, now, work) for row, dag, tis in prepared]
