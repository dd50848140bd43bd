"""Task instances of a run: list, get (with every try), XComs, logs (byte offsets), clear, mark."""

from __future__ import annotations

import json
from typing import Annotated

import pendulum
from fastapi import APIRouter, Path, Query, Request, Response
from pydantic_core import to_json
from sqlalchemy import Connection

from windvane.api.routes._common import Limit, Offset, ReadConn, State, WriteConn, answer, kept_as, load_dag
from windvane.api.schemas import (
    ClearTasksRequest,
    LogChunk,
    MarkTaskRequest,
    RenderedFields,
    TaskIds,
    TaskInstance,
    TaskInstanceDetail,
    TaskInstancePage,
    Try,
    WhyAnswer,
    XCom,
    XComList,
)
from windvane.api.security import Operator, Viewer
from windvane.core.model.states import TaskInstanceState
from windvane.core.store import api_pages_sql, listing, marks
from windvane.core.store.rendered_fields_sql import get_rendered_fields
from windvane.core.store.run_actions import clear_task_instances
from windvane.core.store.sql_bridge import dbapi_tx
from windvane.core.store.why import explain_task_instance
from windvane.tasklogs.reader import read_try_log

router = APIRouter(tags=["Task instances"])
_RUN = "/dags/{dag_id}/dagRuns/{run_id}"
_TI = _RUN + "/taskInstances/{task_id}"


@router.get(_RUN + "/taskInstances", response_model=TaskInstancePage, name="list_task_instances")
async def list_tis(
    dag_id: str,
    run_id: str,
    request: Request,
    user: Viewer,
    api: State,
    limit: Limit = 100,
    offset: Offset = 0,
    state: Annotated[list[TaskInstanceState] | None, Query()] = None,
) -> Response:
    """The task instances of a run by task id and map index."""
    states = [s.value for s in state] if state else None

    def read(conn: Connection) -> bytes:
        entries, total = api_pages_sql.task_instances_page(
            dbapi_tx(conn), dag_id, run_id, limit=limit, offset=offset, states=states
        )
        return to_json({"task_instances": entries, "total_entries": total})

    return await answer(api, read, kept_as(request, user))


@router.get(_TI, response_model=TaskInstanceDetail, name="get_task_instance")
def get_ti(dag_id: str, run_id: str, task_id: str, _: Viewer, conn: ReadConn) -> TaskInstanceDetail:
    """The task instance, its tries (the journaled ends of earlier tries, then the current one) and
    its template fields as the latest try that rendered them stored them (secrets masked)."""
    pk = listing.run_pk_of(conn, dag_id, run_id)
    ti = listing.get_task_instance(conn, pk, task_id)
    tries = [Try.model_validate(t) for t in listing.finished_tries(conn, ti.id)]
    if ti.try_number and all(t.try_number != ti.try_number for t in tries):
        tries.append(
            Try(try_number=ti.try_number, state=ti.state, recorded_at=ti.updated_at,
                hostname=ti.hostname, error=ti.error, reason=None)
        )  # fmt: skip
    found = get_rendered_fields(dbapi_tx(conn), pk, task_id, ti.map_index)
    rendered = None if found is None else RenderedFields.model_validate(found)
    return TaskInstanceDetail.model_validate(
        {**TaskInstance.model_validate(ti).model_dump(), "tries": tries, "rendered_fields": rendered}
    )


@router.get(_TI + "/why", response_model=WhyAnswer, name="explain_task_instance")
def why(dag_id: str, run_id: str, task_id: str, _: Viewer, conn: ReadConn, state: State) -> WhyAnswer:
    """Why the task instance is (not) running: the scheduler's own readiness rules, every reason
    that holds it back, the most pressing first (as ``windvane tasks why``)."""
    answer = explain_task_instance(
        conn, dag_id, task_id, run_id,
        now=pendulum.now("UTC"),
        scheduler_threshold=state.config.health_threshold_seconds,
        parallelism=state.config.parallelism,
    )  # fmt: skip
    return WhyAnswer.model_validate(answer.to_dict())


@router.get(_TI + "/xcomEntries", response_model=XComList, name="list_xcoms")
def list_xcoms(dag_id: str, run_id: str, task_id: str, _: Viewer, conn: ReadConn) -> XComList:
    pk = listing.run_pk_of(conn, dag_id, run_id)
    listing.get_task_instance(conn, pk, task_id)
    return XComList(
        xcom_entries=[XCom(key=k, value=json.loads(v)) for k, v in listing.xcoms_of(conn, pk, task_id)]
    )


@router.get(_TI + "/logs/{try_number}", response_model=LogChunk, name="get_log")
def get_log(
    dag_id: str,
    run_id: str,
    task_id: str,
    try_number: Annotated[int, Path(ge=1, le=100_000)],
    _: Viewer,
    conn: ReadConn,
    state: State,
    offset: Annotated[int, Query(ge=0, le=1 << 50, description="Byte position to read from.")] = 0,
    limit: Annotated[int, Query(ge=1, le=1 << 20, description="Most bytes to return.")] = 65536,
) -> LogChunk:
    """Up to ``limit`` bytes of a try's log from byte ``offset``; poll again from ``next_offset``
    to tail it (a chunk ends on a whole UTF-8 character). A log not on the API's machine is fetched
    from the worker that ran the try (docs/scaling.md, "Task logs")."""
    config = state.config
    chunk = read_try_log(config.log_folder, dag_id, run_id, task_id, try_number, offset=offset, limit=limit,
                         conn=conn, remote=config.remote_logs)  # fmt: skip
    return LogChunk(try_number=try_number, content=chunk.content, offset=chunk.offset,
                    next_offset=chunk.next_offset, size=chunk.size)  # fmt: skip


@router.post(_RUN + "/clearTaskInstances", response_model=TaskIds, name="clear_task_instances")
def clear_tis(dag_id: str, run_id: str, body: ClearTasksRequest, _: Operator, conn: WriteConn) -> TaskIds:
    dag = load_dag(conn, dag_id)
    pk = listing.run_pk_of(conn, dag_id, run_id)
    wanted = set(body.task_ids)
    if body.upstream and wanted <= set(dag.tasks):
        wanted |= marks.related(dag, wanted, downstream=False, upstream=True)
    cleared = clear_task_instances(
        conn, dag, pk, task_ids=sorted(wanted), downstream=body.downstream, now=pendulum.now("UTC")
    )
    return TaskIds(task_ids=cleared)


@router.patch(_TI, response_model=TaskIds, name="mark_task_instance")
def mark_ti(
    dag_id: str, run_id: str, task_id: str, body: MarkTaskRequest, _: Operator, conn: WriteConn
) -> TaskIds:
    dag = load_dag(conn, dag_id)
    pk = listing.run_pk_of(conn, dag_id, run_id)
    changed = marks.mark_task_instances(
        conn, dag, pk, [task_id], body.state, now=pendulum.now("UTC"),
        downstream=body.downstream, upstream=body.upstream,
    )  # fmt: skip
    return TaskIds(task_ids=changed)
