"""Reading what other processes changed, and (re)loading runs into memory.

Polled every ``poll_interval_seconds``: DAG rows (new or changed serialized
DAGs, pauses), pool sizes, queued runs (manual triggers, backfills, clears)
and the state of tries this scheduler adopted from a stopped one.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlalchemy import Connection

from windvane.core.model.run_tracker import RunTracker
from windvane.core.model.states import DagRunState
from windvane.core.model.states import TaskInstanceState as S
from windvane.core.model.workload import TaskInstanceKey
from windvane.core.scheduler import db
from windvane.core.scheduler.model import ActiveRun, DagEntry, TiRecord
from windvane.core.store import dag_runs
from windvane.core.store.task_instances import ensure_task_instances

if TYPE_CHECKING:
    from windvane.core.scheduler.loop import Scheduler, _Pass

log = logging.getLogger("windvane.scheduler")


def poll(s: Scheduler, work: _Pass) -> None:
    with s.engine.begin() as conn:
        _refresh_dags(s, conn, work)
        s.pool_capacity = db.pool_capacities(conn)
        _start_queued_runs(s, conn, work)
        _sync_adopted(s, conn, work)


def _refresh_dags(s: Scheduler, conn: Connection, work: _Pass) -> None:
    rows = db.dag_rows(conn)
    stale = [r.dag_id for r in rows if r.dag_id not in s.dags or s.dags[r.dag_id].dag_hash != r.dag_hash]
    loaded = db.load_serialized(conn, stale) if stale else {}
    fresh: dict[str, DagEntry] = {}
    for r in rows:
        old = s.dags.get(r.dag_id)
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
    s.dags = fresh
    changed = set(loaded)
    if changed:
        reload = [
            run.id
            for run in s.runs.values()
            if run.dag_id in changed and run.dag.dag_hash != fresh[run.dag_id].dag.dag_hash
        ]
        if reload:
            log.info("DAG structure changed; reloading %d active run(s)", len(reload))
            load_runs(s, conn, dag_runs.get_runs(conn, reload), work)


def load_running_runs(s: Scheduler, work: _Pass) -> None:
    """At start: adopt every run already running (a previous scheduler's, or ours before a restart)."""
    only = s.config.only_runs
    with s.engine.begin() as conn:
        _refresh_dags(s, conn, work)
        rows = dag_runs.runs_in_states(
            conn, [DagRunState.RUNNING.value], run_pks=list(only) if only is not None else None
        )
        if only is None:
            rows = [r for r in rows if r.run_type in s.config.run_types]
        load_runs(s, conn, rows, work)


def _start_queued_runs(s: Scheduler, conn: Connection, work: _Pass) -> None:
    only = s.config.only_runs
    queued = dag_runs.runs_in_states(
        conn, [DagRunState.QUEUED.value], run_pks=list(only) if only is not None else None
    )
    if only is None:
        queued = [r for r in queued if r.run_type in s.config.run_types]
    active: dict[str, int] = {}
    for run in s.runs.values():
        active[run.dag_id] = active.get(run.dag_id, 0) + 1
    to_load = []
    for row in queued:
        entry = s.dags.get(row.dag_id)
        if entry is None:
            continue
        reloading = row.id in s.runs
        if not reloading:
            limit = s.config.backfill_max_active_runs if only is not None else None
            limit = limit or entry.dag.max_active_runs
            if active.get(row.dag_id, 0) >= limit:
                continue
            active[row.dag_id] = active.get(row.dag_id, 0) + 1
        if dag_runs.start_run(conn, row.id, s.clock.now()):
            to_load.append(row.id)
    if to_load:
        load_runs(s, conn, dag_runs.get_runs(conn, to_load), work)


def _sync_adopted(s: Scheduler, conn: Connection, work: _Pass) -> None:
    if not s._adopted:
        return
    for ti_id, (state, _try) in db.ti_states(conn, list(s._adopted)).items():
        current = S(state)
        run = s.runs.get(s._ti_run.get(ti_id, -1))
        ti = run.by_id.get(ti_id) if run else None
        if run is None or ti is None or current in (S.RUNNING, S.QUEUED):
            continue
        s._adopted.discard(ti_id)
        s._release(run, ti)
        ti.state = current
        s._apply(run, run.tracker.set_state(ti.task_id, current), work)
        s._maybe_finish(run, work)


def load_runs(
    s: Scheduler, conn: Connection, rows: Sequence[dag_runs.RunRow], work: _Pass
) -> list[ActiveRun]:
    """Build in-memory runs from DB rows (replacing any loaded copy) and schedule what is ready.

    Transitions are added to ``work``; the caller commits them.
    """
    now = s.clock.now()
    rows = [r for r in rows if r.state == DagRunState.RUNNING.value]
    tis_by_run = db.task_instances(conn, [r.id for r in rows])
    loaded = []
    for row in rows:
        entry = s.dags.get(row.dag_id)
        if entry is None:
            log.error("run %s: DAG %r is not in the database; leaving it alone", row.run_id, row.dag_id)
            continue
        dag = entry.dag
        tis = tis_by_run.get(row.id, [])
        if {t.task_id for t in tis} != set(dag.tasks):
            ensure_task_instances(conn, row.id, row.run_id, dag, now)
            tis = db.task_instances(conn, [row.id]).get(row.id, [])
        old = s.runs.get(row.id)
        if old is not None:
            _account(s, old, release=True)
            s._forget_run(old)
        states = {t.task_id: S(t.state) for t in tis if t.task_id in dag.tasks}
        run = ActiveRun(
            id=row.id,
            dag_id=row.dag_id,
            run_id=row.run_id,
            run_type=row.run_type,
            logical_date=row.logical_date,
            data_interval_start=row.data_interval_start,
            data_interval_end=row.data_interval_end,
            conf=row.conf,
            start_date=row.start_date or now,
            dag=dag,
            tracker=RunTracker(dag.upstream_map, dag.rules, states),
        )
        for t in tis:
            if t.task_id not in dag.tasks:
                continue
            rec = TiRecord(
                TaskInstanceKey(t.id, row.id, row.dag_id, row.run_id, t.task_id),
                S(t.state),
                t.try_number,
                t.max_tries,
                t.next_retry_at.timestamp() if t.next_retry_at else None,
            )
            run.tis[t.task_id] = rec
            run.by_id[t.id] = rec
            s._ti_run[t.id] = row.id
        s.runs[row.id] = run
        _account(s, run, release=False)
        for rec in run.tis.values():
            if rec.state is S.SCHEDULED:
                s._make_ready(run, rec)
            elif rec.state is S.UP_FOR_RETRY:
                s._retry_waiting[rec.ti_id] = (run, rec)
            elif rec.state in (S.RUNNING, S.QUEUED) and rec.ti_id not in s._ours:
                s._adopted.add(rec.ti_id)
        s._apply(run, run.tracker.evaluate(), work)
        s._maybe_finish(run, work)
        loaded.append(run)
    return loaded


def _account(s: Scheduler, run: ActiveRun, *, release: bool) -> None:
    for rec in run.tis.values():
        if rec.state in (S.QUEUED, S.RUNNING):
            spec = run.dag.tasks[rec.task_id]
            if release:
                s.occupancy.release(run.dag_id, rec.task_id, spec.pool, spec.pool_slots)
            else:
                s.occupancy.pool_slots_used[spec.pool] += spec.pool_slots
                s.occupancy.per_dag[run.dag_id] += 1
                s.occupancy.per_task[(run.dag_id, rec.task_id)] += 1
