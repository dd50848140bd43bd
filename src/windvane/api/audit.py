"""The audit log: one row per mutating call and per login attempt, written after the call.

:class:`AuditMiddleware` records every POST, PUT, PATCH and DELETE under ``/api/v1`` with the
user the call authenticated as (``request.state.username``, set by
:mod:`windvane.api.security`; None when it did not), the route's name as the action, the path
as the target, the status code and ``success``/``denied``/``error``. A failing audit write is
logged and does not change the response (an observer never breaks what it observes).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

import pendulum
from sqlalchemy import Connection, Engine, func, insert, select
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from windvane.api.tables import audit_log
from windvane.core.store._time import from_db
from windvane.core.store.engine import begin_write

log = logging.getLogger("windvane.api.audit")
MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    at: datetime
    username: str | None
    action: str
    method: str
    target: str
    status_code: int
    result: str
    remote_addr: str | None


def result_of(status: int) -> str:
    if status < 400:
        return "success"
    return "denied" if status in (401, 403, 429) else "error"


def record(conn: Connection, entry: AuditEntry) -> None:
    values = {k: getattr(entry, k) for k in AuditEntry.__dataclass_fields__ if k != "id"}
    values["target"] = values["target"][:2000]
    conn.execute(insert(audit_log).values(**values))


def entries_page(
    conn: Connection, *, limit: int, offset: int, username: str | None = None, action: str | None = None
) -> tuple[list[AuditEntry], int]:
    """Entries newest first."""
    stmt = select(audit_log)
    if username is not None:
        stmt = stmt.where(audit_log.c.username == username)
    if action is not None:
        stmt = stmt.where(audit_log.c.action == action)
    total = conn.execute(select(func.count()).select_from(stmt.subquery())).scalar_one()
    rows = conn.execute(stmt.order_by(audit_log.c.id.desc()).limit(limit).offset(offset)).mappings()
    entries = [AuditEntry(**{**dict(r), "at": from_db(r["at"])}) for r in rows]
    return entries, int(total)


class AuditMiddleware:
    """Records mutating calls to ``engine`` after they are answered (pure ASGI, no body buffering)."""

    def __init__(self, app: ASGIApp, engine: Engine) -> None:
        self.app = app
        self.engine = engine

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in MUTATING:
            await self.app(scope, receive, send)
            return
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            self._record(scope, status)

    def _record(self, scope: Scope, status: int) -> None:
        request = Request(scope)
        username = getattr(request.state, "username", None)
        client = scope.get("client")
        entry = AuditEntry(
            id=0,
            at=pendulum.now("UTC"),
            username=username,
            action=_route_name(scope),
            method=scope["method"],
            target=scope["path"],
            status_code=status,
            result=result_of(status),
            remote_addr=client[0] if client else None,
        )
        try:
            with begin_write(self.engine) as conn:
                record(conn, entry)
        except Exception:
            log.exception("could not record %s %s in the audit log", entry.method, entry.target)


def _route_name(scope: Scope) -> str:
    """The name of the route that answered (the router records it in the scope)."""
    route = scope.get("route")
    if route is not None:
        return str(getattr(route, "name", "unknown"))
    endpoint = scope.get("endpoint")
    return str(getattr(endpoint, "__name__", "unknown"))
