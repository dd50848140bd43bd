"""The ASGI application: :func:`create_app`.

FastAPI rather than bare Starlette: the OpenAPI document (``/api/v1/openapi.json``, browsable at
``/api/v1/docs``) is generated from the same pydantic models that validate requests and
responses, so it cannot drift from the code; schemathesis tests the app against it and clients
can be generated from it.
"""

from __future__ import annotations

import time

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import Engine

from windvane import __version__
from windvane.api import views
from windvane.api.answer_cache import AnswerCache
from windvane.api.audit import AuditMiddleware
from windvane.api.auth_cache import AuthCache
from windvane.api.config import ApiConfig
from windvane.api.etags import ETagMiddleware
from windvane.api.kept_answers import KeptAnswerMiddleware
from windvane.api.page_cache import PageCache
from windvane.api.ratelimit import LoginLimiter
from windvane.api.routes import auth, dags, pools, runs, system, task_instances
from windvane.api.schemas import ERRORS
from windvane.api.state import ApiState
from windvane.api.ui import mount_ui
from windvane.api.users import UserError
from windvane.errors import NotFoundError, WindvaneError

PREFIX = "/api/v1"


def create_app(engine: Engine, config: ApiConfig | None = None) -> FastAPI:
    """The API over ``engine`` (a migrated metadata database, the API's branch included)."""
    config = config or ApiConfig()
    app = FastAPI(
        title="Windvane REST API",
        version=__version__,
        description="DAGs, runs, task instances, logs, pools and the audit log. See docs/api.md.",
        openapi_url=f"{PREFIX}/openapi.json",
        docs_url=f"{PREFIX}/docs",
        redoc_url=None,
    )
    limiter = LoginLimiter(engine, config.login_rate_limit, config.login_rate_window_seconds, time.time)
    app.state.api = ApiState(
        engine=engine,
        config=config,
        limiter=limiter,
        auth=AuthCache(config.auth_cache_seconds, time.monotonic),
        dag_pages=PageCache(config.dag_list_cache_seconds, time.monotonic),
        answers=AnswerCache(config.list_cache_seconds, time.monotonic),
    )
    for module in (system, auth, dags, runs, task_instances, pools, views):
        app.include_router(module.router, prefix=PREFIX, responses=ERRORS)
    mount_ui(app)
    app.add_exception_handler(NotFoundError, _not_found)
    app.add_exception_handler(WindvaneError, _bad_request)
    app.add_middleware(KeptAnswerMiddleware, state=app.state.api)
    app.add_middleware(ETagMiddleware)
    app.add_middleware(AuditMiddleware, engine=engine)
    return app


async def _not_found(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=404)


async def _bad_request(request: Request, exc: Exception) -> JSONResponse:
    """A request the store refused: 409 when it clashes with what exists, else 400."""
    text = str(exc)
    conflict = ("already" in text and not isinstance(exc, UserError)) or "already exists" in text
    return JSONResponse({"detail": text}, status_code=409 if conflict else 400)
