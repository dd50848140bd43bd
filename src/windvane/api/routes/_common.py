"""What the routers share: the read/write connection dependencies, paging parameters, and
:func:`answer`, the fast path of the list endpoints."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Query, Request, Response
from pydantic import BaseModel
from sqlalchemy import Connection
from starlette.concurrency import run_in_threadpool

from windvane.api.kept_answers import kept_key
from windvane.api.schemas import MAX_LIMIT
from windvane.api.state import ApiState, get_state
from windvane.api.users import User
from windvane.core.model.serialized_dag import SerializedDag
from windvane.core.store.dags import get_serialized
from windvane.core.store.engine import begin_read, begin_write


def read_conn(state: Annotated[ApiState, Depends(get_state)]) -> Iterator[Connection]:
    with begin_read(state.engine) as conn:
        yield conn


def write_conn(state: Annotated[ApiState, Depends(get_state)]) -> Iterator[Connection]:
    """A write transaction; once it ends, this process's kept list answers are forgotten (a client
    sees its own change at once, see :mod:`windvane.api.answer_cache`)."""
    try:
        with begin_write(state.engine) as conn:
            yield conn
    finally:
        state.answers.clear()


def credential_write_conn(state: Annotated[ApiState, Depends(get_state)]) -> Iterator[Connection]:
    """A write transaction that revokes or changes credentials: once it has committed, this
    process's remembered credentials are forgotten again. The handler's own clear comes before the
    commit; a lookup in between still reads the old row and would remember the revoked credential
    for up to ``[api] auth_cache_seconds`` (clearing raises the cache's generation, so a lookup
    begun before this clear is not remembered either)."""
    try:
        yield from write_conn(state)
    finally:
        state.auth.clear()


ReadConn = Annotated[Connection, Depends(read_conn)]
WriteConn = Annotated[Connection, Depends(write_conn)]
CredentialWriteConn = Annotated[Connection, Depends(credential_write_conn)]
State = Annotated[ApiState, Depends(get_state)]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description=f"Page size (at most {MAX_LIMIT}).")]
Offset = Annotated[int, Query(ge=0, le=10_000_000, description="Entries to skip.")]


def load_dag(conn: Connection, dag_id: str) -> SerializedDag:
    """The serialized DAG ``dag_id``; NotFoundError (404) naming it."""
    return SerializedDag.from_json(get_serialized(conn, dag_id))


M = TypeVar("M", bound=BaseModel)
JSON = "application/json"


def kept_as(request: Request, user: User) -> tuple[str, bytes, str]:
    """The key of this request's answer in :mod:`windvane.api.answer_cache` (path, query, role)."""
    return kept_key(request.scope, user.role.value)


async def answer(
    state: ApiState,
    read: Callable[[Connection], BaseModel | bytes],
    key: tuple[str, bytes, str] | None = None,
) -> Response:
    """``read(conn)`` in one read transaction on the thread pool, sent as JSON.

    The list endpoints' fast path: an ``async`` endpoint (no thread hop for it or its
    dependencies: authentication is async too) makes one hop for all its database work, and the
    model it built from rows the store already typed is serialized once by pydantic's core, not
    validated again (what FastAPI does with a returned model). ``read`` may return the JSON body
    itself (plain rows serialized, or a kept answer). With ``key`` (:func:`kept_as`), an answer
    kept for it within ``[api] list_cache_seconds`` is sent without a hop or a read."""
    if key is not None:
        kept = state.answers.get(key)
        if kept is not None:
            return Response(kept, media_type=JSON)
    generation = state.answers.generation

    def work() -> bytes:
        with begin_read(state.engine) as conn:
            found = read(conn)
        return found if isinstance(found, bytes) else found.__pydantic_serializer__.to_json(found)

    body = await run_in_threadpool(work)
    if key is not None:
        state.answers.put(key, body, generation)
    return Response(body, media_type=JSON)


def built(model: type[M], row: Any, **extra: Any) -> M:
    """``model`` from the attributes of ``row`` (a store row), without validation: the store's rows
    are typed already, and the answer is checked against the OpenAPI document by the tests."""
    return model.model_construct(
        **{name: getattr(row, name) for name in model.model_fields if name not in extra}, **extra
    )
