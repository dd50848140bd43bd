"""Creating scheduled runs when they fall due, and keeping each DAG's next run current."""

from __future__ import annotations

import logging

import pendulum
from sqlalchemy import Engine

from windvane.core.model import readiness
from windvane.core.model.states import DagRunState, DagRunType
from windvane.core.scheduler import polling
from windvane.core.scheduler.book import Book
from windvane.core.scheduler.config import SchedulerConfig
from windvane.core.scheduler.coordination import Coordinator
from windvane.core.scheduler.model import ActiveRun, DagEntry
from windvane.core.scheduler.pass_work import PassWork
from windvane.core.scheduler.quarantine import Quarantine
from windvane.core.store import dag_runs, dags, run_owners, task_instances
from windvane.core.timetables.base import DataInterval

log = logging.getLogger("windvane.scheduler")


def run_id_for(run_type: DagRunType, logical_date: pendulum.DateTime) -> str:
    return run_type.run_id(logical_date.in_timezone("UTC").isoformat())


def due_entries(book: Book, now: pendulum.DateTime) -> list[DagEntry]:
    """Active, unpaused DAGs whose next run may be created, the longest due first (from the book's
    due index: the cost is in the due DAGs, not all of them)."""
    return book.due.due(now.timestamp(), book.dags)


class RunCreator:
    """Creates the scheduled runs that fell due into ``book`` (up to the per-pass and per-DAG limits)."""

    def __init__(
        self,
        engine: Engine,
        book: Book,
        config: SchedulerConfig,
        quarantine: Quarantine | None = None,
        coordinator: Coordinator | None = None,
    ) -> None:
        self.engine = engine
        self.book = book
        self.config = config
        self.quarantine = quarantine
        #: Several schedulers: the DAG's row is locked to create its run (see ``Coordinator``).
        self.coordinator = coordinator

    def create_due_runs(self, now: pendulum.DateTime, job_id: int, work: PassWork) -> None:
        config = self.config
        if config.only_runs is not None or DagRunType.SCHEDULED.value not in config.run_types:
            return
        due = due_entries(self.book, now)
        if not due:
            return
        active = self.book.active_runs_per_dag(count_backfill=False)
        created = 0
        for entry in due:
            if created >= config.max_dagruns_to_create_per_loop:
                break
            if not readiness.runs_have_room(active.get(entry.dag_id, 0), entry.dag.max_active_runs):
                continue
            try:
                made = self._create(entry, now, job_id, work)
            except Exception as exc:  # this DAG's data; the transaction rolled back
                if self.quarantine is None:
                    raise
                self.quarantine.isolate(
                    entry.dag_id, entry.dag_hash, entry.dag.fileloc, "creating its next run", exc, now
                )
                self.book.dags.pop(entry.dag_id, None)
                continue
            if made:
                created += 1
                active[entry.dag_id] = active.get(entry.dag_id, 0) + 1
        work.stats.runs_created += created

    def _create(self, entry: DagEntry, now: pendulum.DateTime, job_id: int, work: PassWork) -> bool:
        logical = entry.next_logical_date
        start, end = entry.next_interval_start, entry.next_interval_end
        if logical is None:
            return False
        due_at = entry.next_create_after
        dag = entry.dag
        run_id = run_id_for(DagRunType.SCHEDULED, logical)
        created: ActiveRun | None = None
        # The next run first: if it cannot be computed nothing was written or loaded yet.
        values = dag.next_run(DataInterval(start=start or logical, end=end or logical), now)
        with self.engine.begin() as conn:
            if self.coordinator is not None and not self.coordinator.may_create(conn, entry):
                # Another scheduler creates it (``entry`` may now hold the row's next run: index
                # it under that time, or the due index would drop it), or max_active_runs is full.
                self.book.due.put(entry)
                return False
            dags.set_next_dagrun(conn, dag.dag_id, *values)
            if not dag_runs.run_exists(conn, dag.dag_id, run_id):
                pk = dag_runs.insert_run(
                    conn,
                    dag=dag,
                    run_id=run_id,
                    run_type=DagRunType.SCHEDULED.value,
                    logical_date=logical,
                    interval_start=start,
                    interval_end=end,
                    state=DagRunState.RUNNING,
                    conf={},
                    now=now,
                    job_id=job_id,
                )
                if self.coordinator is not None:
                    run_owners.own(conn, pk, job_id)
                task_instances.ensure_task_instances(conn, pk, run_id, dag, now)
                loaded = polling.load_runs(conn, self.book, dag_runs.get_runs(conn, [pk]), now, work)
                created = loaded[0] if loaded else None
        (
            entry.next_logical_date,
            entry.next_interval_start,
            entry.next_interval_end,
            entry.next_create_after,
        ) = values
        self.book.due.put(entry)
        if created is not None:
            log.info("created run %s of DAG %r", run_id, dag.dag_id)
            self.book.announce.run_created(created, due_at, now)
        return created is not None
