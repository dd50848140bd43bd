"""What the routers share: the read/write connection dependencies and paging parameters."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Query
from sqlalchemy import Connection

from windvane.api.schemas import MAX_LIMIT
from windvane.api.state import ApiState, get_state
from windvane.core.model.serialized_dag import SerializedDag
from windvane.core.store.dags import get_serialized
from windvane.core.store.engine import begin_read, begin_write


def read_conn(state: Annotated[ApiState, Depends(get_state)]) -> Iterator[Connection]:
    with begin_read(state.engine) as conn:
        yield conn


def write_conn(state: Annotated[ApiState, Depends(get_state)]) -> Iterator[Connection]:
    with begin_write(state.engine) as conn:
        yield conn


ReadConn = Annotated[Connection, Depends(read_conn)]
WriteConn = Annotated[Connection, Depends(write_conn)]
State = Annotated[ApiState, Depends(get_state)]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description=f"Page size (at most {MAX_LIMIT}).")]
Offset = Annotated[int, Query(ge=0, le=10_000_000, description="Entries to skip.")]


def load_dag(conn: Connection, dag_id: str) -> SerializedDag:
    """The serialized DAG ``dag_id``; NotFoundError (404) naming it."""
    return SerializedDag.from_json(get_serialized(conn, dag_id))
