"""Read endpoints shaped for the browser UI (``/api/v1/ui/...``): one request per page rather than
one per DAG or per run.

* ``/ui/recentRuns``: the newest runs of many DAGs at once (the DAGs page's coloured squares);
* ``/ui/dags/{dag_id}/grid``: the newest runs of a DAG with all their task instances (Grid, Graph,
  Gantt);
* ``/ui/healthPanel``: heartbeats, queue depth, open pool slots and import errors, read from the
  metadata database so the panel works without Prometheus.

Scripts may use them too; they are in the OpenAPI document like every other route.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import pendulum
from fastapi import APIRouter, Query, Request, Response
from pydantic_core import to_json
from sqlalchemy import Connection, select

from windvane.api.health import occupied_slots, read_health
from windvane.api.routes._common import ReadConn, State, answer, kept_as
from windvane.api.schemas import DagRun, HealthCounts, Heartbeat, Model
from windvane.api.security import Viewer
from windvane.core.store import api_pages_sql, dags, listing
from windvane.core.store._time import from_db
from windvane.core.store.sql_bridge import dbapi_tx
from windvane.core.store.tables import dag_run, slot_pool, task_instance

router = APIRouter(prefix="/ui", tags=["UI"])


class RunSquare(Model):
    run_id: str
    state: str
    logical_date: datetime


class RecentRuns(Model):
    runs: dict[str, list[RunSquare]]


class GridCell(Model):
    run_id: str
    task_id: str
    map_index: int
    state: str
    try_number: int
    start_date: datetime | None
    end_date: datetime | None
    duration: float | None


class Grid(Model):
    dag_id: str
    dag_runs: list[DagRun]
    task_instances: list[GridCell]


class PoolUse(Model):
    name: str
    slots: int
    description: str | None
    running: int
    queued: int
    open: int


class PoolUsage(Model):
    pools: list[PoolUse]


class HealthPanel(HealthCounts):
    scheduler: Heartbeat
    dag_processor: Heartbeat


@router.get("/recentRuns", response_model=RecentRuns, name="ui_recent_runs")
async def recent_runs(
    request: Request,
    user: Viewer,
    state: State,
    dag_ids: Annotated[list[str], Query(max_length=1000, description="The DAGs (at most 1,000).")],
    runs: Annotated[int, Query(ge=1, le=50, description="Runs per DAG, newest first.")] = 10,
) -> Response:
    """The newest ``runs`` runs of each of ``dag_ids`` (the DAGs page's coloured squares): one
    plain-SQL statement per 100 DAGs, rows straight to JSON."""

    def read(conn: Connection) -> bytes:
        return to_json({"runs": api_pages_sql.newest_runs(dbapi_tx(conn), dag_ids, runs)})

    return await answer(state, read, kept_as(request, user))


@router.get("/dags/{dag_id}/grid", response_model=Grid, name="ui_grid")
def grid(
    dag_id: str,
    _: Viewer,
    conn: ReadConn,
    runs: Annotated[int, Query(ge=1, le=100, description="The newest runs to show.")] = 25,
) -> Grid:
    dags.get_dag(conn, dag_id)  # 404 naming the DAG
    found, _total = listing.runs_page(conn, limit=runs, offset=0, dag_id=dag_id)
    pks = dict(
        conn.execute(
            select(dag_run.c.run_id, dag_run.c.id).where(
                dag_run.c.dag_id == dag_id, dag_run.c.run_id.in_([r.run_id for r in found])
            )
        ).all()
    )
    cols = [task_instance.c[n] for n in GridCell.model_fields]
    cells = conn.execute(select(*cols).where(task_instance.c.dag_run_id.in_(list(pks.values())))).mappings()
    return Grid(
        dag_id=dag_id,
        dag_runs=[DagRun.model_validate(r) for r in found],
        task_instances=[
            GridCell(
                **{
                    **c,
                    "start_date": from_db(c["start_date"]),
                    "end_date": from_db(c["end_date"]),
                }
            )
            for c in cells
        ],
    )


@router.get("/pools", response_model=PoolUsage, name="ui_pool_usage")
def pool_usage(_: Viewer, conn: ReadConn) -> PoolUsage:
    """Every pool with the slots its running and queued task instances hold, and how many are open."""
    used = occupied_slots(conn)
    found = []
    for name, slots, description in conn.execute(
        select(slot_pool.c.pool, slot_pool.c.slots, slot_pool.c.description).order_by(slot_pool.c.pool)
    ).all():
        running, queued = used.get((name, "running"), 0), used.get((name, "queued"), 0)
        found.append(
            PoolUse(
                name=name,
                slots=slots,
                description=description,
                running=running,
                queued=queued,
                open=max(0, slots - running - queued),
            )
        )
    return PoolUsage(pools=found)


@router.get("/healthPanel", response_model=HealthPanel, name="ui_health_panel")
def health_panel(_: Viewer, state: State, conn: ReadConn) -> HealthPanel:
    """What ``/health`` reports, for the header of every page (with a login, polled with an ETag)."""
    reading = read_health(conn, pendulum.now("UTC"), state.config.health_threshold_seconds)
    return HealthPanel(
        scheduler=reading.scheduler, dag_processor=reading.dag_processor, **reading.counts.model_dump()
    )
