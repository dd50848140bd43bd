"""Creating scheduled runs when they fall due, and keeping each DAG's next run current."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import pendulum

from windvane.core.model.states import DagRunState, DagRunType
from windvane.core.scheduler import polling
from windvane.core.store import dag_runs
from windvane.core.store.dags import set_next_dagrun
from windvane.core.store.task_instances import ensure_task_instances
from windvane.core.timetables.base import DataInterval

if TYPE_CHECKING:
    from windvane.core.scheduler.loop import Scheduler, _Pass
    from windvane.core.scheduler.model import DagEntry

log = logging.getLogger("windvane.scheduler")


def run_id_for(run_type: DagRunType, logical_date: pendulum.DateTime) -> str:
    return run_type.run_id(logical_date.in_timezone("UTC").isoformat())


class RunCreator:
    def __init__(self, scheduler: Scheduler) -> None:
        self.s = scheduler

    def create_due_runs(self, now: pendulum.DateTime, work: _Pass) -> None:
        s = self.s
        if s.config.only_runs is not None or DagRunType.SCHEDULED.value not in s.config.run_types:
            return
        due = [
            e
            for e in s.dags.values()
            if e.is_active
            and not e.is_paused
            and e.next_create_after is not None
            and e.next_create_after <= now
        ]
        if not due:
            return
        due.sort(key=lambda e: e.next_create_after or now)
        active: dict[str, int] = {}
        for run in s.runs.values():
            if run.run_type != DagRunType.BACKFILL.value:
                active[run.dag_id] = active.get(run.dag_id, 0) + 1
        created = 0
        for entry in due:
            if created >= s.config.max_dagruns_to_create_per_loop:
                break
            if active.get(entry.dag_id, 0) >= entry.dag.max_active_runs:
                continue
            if self._create(entry, now, work):
                created += 1
                active[entry.dag_id] = active.get(entry.dag_id, 0) + 1
        work.stats.runs_created += created

    def _create(self, entry: DagEntry, now: pendulum.DateTime, work: _Pass) -> bool:
        s = self.s
        logical = entry.next_logical_date
        start, end = entry.next_interval_start, entry.next_interval_end
        if logical is None:
            return False
        due_at = entry.next_create_after
        dag = entry.dag
        run_id = run_id_for(DagRunType.SCHEDULED, logical)
        created = None
        with s.engine.begin() as conn:
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
                    job_id=s.job_id,
                )
                ensure_task_instances(conn, pk, run_id, dag, now)
                loaded = polling.load_runs(s, conn, dag_runs.get_runs(conn, [pk]), work)
                created = loaded[0] if loaded else None
            last = DataInterval(start=start or logical, end=end or logical)
            values = dag.next_run(last, now)
            set_next_dagrun(conn, dag.dag_id, *values)
        (
            entry.next_logical_date,
            entry.next_interval_start,
            entry.next_interval_end,
            entry.next_create_after,
        ) = values
        if created is not None:
            log.info("created run %s of DAG %r", run_id, dag.dag_id)
            s.observer.run_created(created, due_at, now)
        return created is not None
