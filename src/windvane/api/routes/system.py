"""``/health`` (no auth), ``/version``, ``/config`` (admin, redacted), ``/importErrors``, ``/audit-log``."""

from __future__ import annotations

import pendulum
from fastapi import APIRouter, Response
from sqlalchemy import text

from windvane import __version__
from windvane.api import audit
from windvane.api.health import read_health
from windvane.api.routes._common import Limit, Offset, ReadConn, State
from windvane.api.schemas import (
    AuditEntry,
    AuditPage,
    Config,
    ConfigOption,
    Health,
    Heartbeat,
    ImportError_,
    ImportErrorPage,
    Version,
)
from windvane.api.security import Admin, Viewer
from windvane.core.store.engine import begin_read
from windvane.core.store.import_errors import list_import_errors

router = APIRouter(tags=["System"])


@router.get("/health", response_model=Health, name="get_health", responses={503: {"model": Health}})
def health(state: State, response: Response) -> Health:
    """Database reachable, the scheduler's and DAG processor's newest heartbeat ages, the
    scheduler's loop p95, queue depth, open pool slots and import errors. No auth; HTTP 503 when
    the database is unreachable."""
    now = pendulum.now("UTC")
    try:
        with begin_read(state.engine) as conn:
            conn.execute(text("SELECT 1"))
            reading = read_health(conn, now, state.config.health_threshold_seconds)
    except Exception:
        response.status_code = 503
        unknown = Heartbeat(status="unknown", latest_heartbeat=None, heartbeat_age_seconds=None)
        return Health(metadatabase="unhealthy", scheduler=unknown, dag_processor=unknown)
    return Health(
        metadatabase="healthy",
        scheduler=reading.scheduler,
        dag_processor=reading.dag_processor,
        **reading.counts.model_dump(),
    )


@router.get("/version", response_model=Version, name="get_version")
def version(_: Viewer) -> Version:
    return Version(version=__version__)


@router.get("/config", response_model=Config, name="get_config")
def config(_: Admin, state: State) -> Config:
    """Every setting in effect with its source; keys named like password/secret/token/webhook_url
    and URL passwords are masked as ``***``."""
    rows = state.config.config_rows
    return Config(options=[ConfigOption(section=s, key=k, value=v, source=src) for s, k, v, src in rows])


@router.get("/importErrors", response_model=ImportErrorPage, name="list_import_errors")
def import_errors(_: Viewer, conn: ReadConn, limit: Limit = 100, offset: Offset = 0) -> ImportErrorPage:
    found = list_import_errors(conn)
    page = [ImportError_.model_validate(e) for e in found[offset : offset + limit]]
    return ImportErrorPage(import_errors=page, total_entries=len(found))


@router.get("/audit-log", response_model=AuditPage, name="list_audit_log")
def audit_log(
    _: Viewer,
    conn: ReadConn,
    limit: Limit = 100,
    offset: Offset = 0,
    username: str | None = None,
    action: str | None = None,
) -> AuditPage:
    entries, total = audit.entries_page(conn, limit=limit, offset=offset, username=username, action=action)
    return AuditPage(audit_log=[AuditEntry.model_validate(e) for e in entries], total_entries=total)
