"""``/dags``: list (filters, paging), get, pause/unpause, structure (tasks, edges, groups)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from sqlalchemy import Connection

from windvane.api.routes._common import (
    Limit,
    Offset,
    ReadConn,
    State,
    WriteConn,
    answer,
    built,
    kept_as,
    load_dag,
)
from windvane.api.schemas import Dag, DagPage, DagPatch, DagStructure, Edge, StructureTask, TaskGroup
from windvane.api.security import Operator, Viewer
from windvane.core.store import dags, listing

router = APIRouter(tags=["DAGs"])


@router.get("/dags", response_model=DagPage, name="list_dags")
async def list_dags(
    request: Request,
    user: Viewer,
    state: State,
    limit: Limit = 100,
    offset: Offset = 0,
    tags: Annotated[list[str] | None, Query(description="DAGs with any of these tags.")] = None,
    paused: bool | None = None,
    dag_id_pattern: Annotated[str | None, Query(max_length=250, description="Substring of the id.")] = None,
) -> Response:
    """Active DAGs by id. An answer is kept per query while the ``dag_change`` counter stands still
    (at most ``[api] dag_list_cache_seconds``): a kept answer costs one read of that counter."""
    key = (limit, offset, tuple(sorted(set(tags or ()))), paused, dag_id_pattern)

    def read(conn: Connection) -> bytes:
        version = listing.dag_change_seq(conn)
        kept = state.dag_pages.get(key, version)
        if kept is not None:
            return kept
        rows, total = listing.dags_page(
            conn, limit=limit, offset=offset, tags=tags, paused=paused, dag_id_pattern=dag_id_pattern
        )
        page = DagPage.model_construct(dags=[built(Dag, r) for r in rows], total_entries=total)
        body = page.__pydantic_serializer__.to_json(page)
        state.dag_pages.put(key, version, body)
        return body

    return await answer(state, read, kept_as(request, user))


@router.get("/dags/{dag_id}", response_model=Dag, name="get_dag")
def get_dag(dag_id: str, _: Viewer, conn: ReadConn) -> Dag:
    return Dag.model_validate(dags.get_dag(conn, dag_id))


@router.patch("/dags/{dag_id}", response_model=Dag, name="patch_dag")
def patch_dag(dag_id: str, body: DagPatch, _: Operator, conn: WriteConn) -> Dag:
    dags.set_paused(conn, dag_id, body.is_paused)
    return Dag.model_validate(dags.get_dag(conn, dag_id))


@router.get("/dags/{dag_id}/structure", response_model=DagStructure, name="get_dag_structure")
def get_structure(dag_id: str, _: Viewer, conn: ReadConn) -> DagStructure:
    dag = load_dag(conn, dag_id)
    tasks = [
        StructureTask(
            task_id=t.task_id,
            operator=t.operator,
            trigger_rule=t.trigger_rule,
            task_group=t.task_group,
            pool=t.pool,
            retries=t.retries,
            upstream=sorted(t.upstream),
            downstream=sorted(t.downstream),
        )
        for t in dag.tasks.values()
    ]
    edges = [Edge(source=t.task_id, target=d) for t in dag.tasks.values() for d in sorted(t.downstream)]
    members: dict[str, list[str]] = {}
    for t in dag.tasks.values():
        group = t.task_group
        if group:
            members.setdefault(group, []).append(t.task_id)
            while "." in group:  # every enclosing group exists too, even without tasks of its own
                group = group.rsplit(".", 1)[0]
                members.setdefault(group, [])
    groups = [
        TaskGroup(group_id=g, parent=g.rsplit(".", 1)[0] if "." in g else None, tasks=sorted(ts))
        for g, ts in sorted(members.items())
    ]
    return DagStructure(dag_id=dag.dag_id, tasks=tasks, edges=edges, groups=groups, params=dag.params)
