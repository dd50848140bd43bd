"""``/dags/{dag_id}/dagRuns`` and ``/dagRuns``: list, get, trigger, clear, mark success/failed."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import pendulum
from fastapi import APIRouter, Query, Request, Response
from pydantic_core import to_json
from sqlalchemy import Connection

from windvane.api.routes._common import Limit, Offset, ReadConn, State, WriteConn, answer, kept_as, load_dag
from windvane.api.schemas import ClearRunRequest, DagRun, DagRunPage, StatePatch, TaskIds, TriggerRequest
from windvane.api.security import Operator, Viewer
from windvane.core.model.states import DagRunState
from windvane.core.model.states import TaskInstanceState as S
from windvane.core.store import api_pages_sql, dag_runs, marks
from windvane.core.store.run_actions import clear_task_instances, trigger_dag
from windvane.core.store.sql_bridge import dbapi_tx

router = APIRouter(tags=["DAG runs"])

States = Annotated[list[DagRunState] | None, Query(description="Only runs in these states.")]


def _page(
    conn: Connection,
    dag_id: str | None,
    limit: int,
    offset: int,
    state: list[DagRunState] | None,
    logical_date_gte: datetime | None,
    logical_date_lte: datetime | None,
) -> bytes:
    """A ``DagRunPage`` as JSON, from plain SQL (:mod:`windvane.core.store.api_pages_sql`); an
    unknown DAG is a 404, not an empty page."""
    entries, total = api_pages_sql.runs_page(
        dbapi_tx(conn),
        limit=limit,
        offset=offset,
        dag_id=dag_id,
        states=[s.value for s in state] if state else None,
        logical_date_gte=logical_date_gte,
        logical_date_lte=logical_date_lte,
    )
    return to_json({"dag_runs": entries, "total_entries": total})


@router.get("/dagRuns", response_model=DagRunPage, name="list_all_dag_runs")
async def list_all_runs(
    request: Request,
    user: Viewer,
    api: State,
    limit: Limit = 100,
    offset: Offset = 0,
    state: States = None,
    logical_date_gte: datetime | None = None,
    logical_date_lte: datetime | None = None,
) -> Response:
    """Runs of every DAG, newest logical date first."""
    return await answer(
        api,
        lambda conn: _page(conn, None, limit, offset, state, logical_date_gte, logical_date_lte),
        kept_as(request, user),
    )


@router.get("/dags/{dag_id}/dagRuns", response_model=DagRunPage, name="list_dag_runs")
async def list_runs(
    dag_id: str,
    request: Request,
    user: Viewer,
    api: State,
    limit: Limit = 100,
    offset: Offset = 0,
    state: States = None,
    logical_date_gte: datetime | None = None,
    logical_date_lte: datetime | None = None,
) -> Response:
    """Runs of one DAG, newest logical date first."""
    return await answer(
        api,
        lambda conn: _page(conn, dag_id, limit, offset, state, logical_date_gte, logical_date_lte),
        kept_as(request, user),
    )


@router.get("/dags/{dag_id}/dagRuns/{run_id}", response_model=DagRun, name="get_dag_run")
def get_run(dag_id: str, run_id: str, _: Viewer, conn: ReadConn) -> DagRun:
    return DagRun.model_validate(dag_runs.get_dag_run(conn, dag_id, run_id))


@router.post("/dags/{dag_id}/dagRuns", response_model=DagRun, status_code=201, name="trigger_dag_run")
def trigger(dag_id: str, body: TriggerRequest, _: Operator, conn: WriteConn) -> DagRun:
    """Queue a manual run; ``run_id`` follows the CLI's rule (400 naming it), a duplicate is 409."""
    dag = load_dag(conn, dag_id)
    logical = pendulum.instance(body.logical_date, tz="UTC") if body.logical_date else None
    _pk, run_id = trigger_dag(
        conn, dag, now=pendulum.now("UTC"), logical_date=logical, conf=body.conf, run_id=body.run_id
    )
    return DagRun.model_validate(dag_runs.get_dag_run(conn, dag_id, run_id))


@router.post("/dags/{dag_id}/dagRuns/{run_id}/clear", response_model=TaskIds, name="clear_dag_run")
def clear_run(dag_id: str, run_id: str, body: ClearRunRequest, _: Operator, conn: WriteConn) -> TaskIds:
    """Clear every task of the run (only failed and upstream_failed ones with ``only_failed``)."""
    dag = load_dag(conn, dag_id)
    run = dag_runs.get_dag_run(conn, dag_id, run_id)
    states = [S.FAILED, S.UPSTREAM_FAILED] if body.only_failed else None
    cleared = clear_task_instances(conn, dag, run.id, states=states, now=pendulum.now("UTC"))
    return TaskIds(task_ids=cleared)


@router.patch("/dags/{dag_id}/dagRuns/{run_id}", response_model=DagRun, name="mark_dag_run")
def mark_run(dag_id: str, run_id: str, body: StatePatch, _: Operator, conn: WriteConn) -> DagRun:
    run = dag_runs.get_dag_run(conn, dag_id, run_id)
    marks.mark_run(conn, dag_id, run.id, body.state, now=pendulum.now("UTC"))
    return DagRun.model_validate(dag_runs.get_dag_run(conn, dag_id, run_id))
