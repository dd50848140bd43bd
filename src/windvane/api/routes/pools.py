"""``/pools``: list, get, create, update, delete (admin for changes)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, Response
from sqlalchemy import Connection

from windvane.api.routes._common import Limit, Offset, ReadConn, State, WriteConn, answer, built, kept_as
from windvane.api.schemas import Pool, PoolPage, PoolPatch
from windvane.api.security import Admin, Viewer
from windvane.core.store import pools

router = APIRouter(tags=["Pools"])


@router.get("/pools", response_model=PoolPage, name="list_pools")
async def list_pools(
    request: Request, user: Viewer, api: State, limit: Limit = 100, offset: Offset = 0
) -> Response:
    def read(conn: Connection) -> PoolPage:
        found = pools.list_pools(conn)
        page = [built(Pool, p) for p in found[offset : offset + limit]]
        return PoolPage.model_construct(pools=page, total_entries=len(found))

    return await answer(api, read, kept_as(request, user))


@router.get("/pools/{name}", response_model=Pool, name="get_pool")
def get_pool(name: str, _: Viewer, conn: ReadConn) -> Pool:
    return Pool.model_validate(pools.get_pool(conn, name))


@router.post("/pools", response_model=Pool, status_code=201, name="create_pool")
def create_pool(body: Pool, _: Admin, conn: WriteConn) -> Pool:
    if any(p.name == body.name for p in pools.list_pools(conn)):
        raise HTTPException(409, f"pool {body.name!r} already exists")
    return Pool.model_validate(pools.set_pool(conn, body.name, body.slots, body.description))


@router.patch("/pools/{name}", response_model=Pool, name="patch_pool")
def patch_pool(name: str, body: PoolPatch, _: Admin, conn: WriteConn) -> Pool:
    pool = pools.get_pool(conn, name)
    slots = pool.slots if body.slots is None else body.slots
    description = pool.description if body.description is None else body.description
    return Pool.model_validate(pools.set_pool(conn, name, slots, description))


@router.delete("/pools/{name}", status_code=204, response_class=Response, name="delete_pool")
def delete_pool(name: str, _: Admin, conn: WriteConn) -> Response:
    pools.delete_pool(conn, name)
    return Response(status_code=204)
