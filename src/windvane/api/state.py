"""What every handler shares: the engine, the config, the login limiter, and the per-process
memories of credentials, DAG-list answers and list answers (``app.state.api``)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request
from sqlalchemy import Engine

from windvane.api.answer_cache import AnswerCache
from windvane.api.auth_cache import AuthCache
from windvane.api.config import ApiConfig
from windvane.api.page_cache import PageCache
from windvane.api.ratelimit import LoginLimiter


@dataclass(frozen=True)
class ApiState:
    engine: Engine
    config: ApiConfig
    limiter: LoginLimiter
    #: Who a token (by its SHA-256) or a session's user name belongs to, for auth_cache_seconds.
    auth: AuthCache[Any]
    #: GET /dags bodies per query, while the dag_change counter stands still.
    dag_pages: PageCache
    #: List answers per (path, query, role) for list_cache_seconds; forgotten on every local write.
    answers: AnswerCache
    #: Re-checks of remembered credentials under way (held so they are not collected mid-way).
    rechecks: set[asyncio.Task[None]] = field(default_factory=set)


async def get_state(request: Request) -> ApiState:
    state: ApiState = request.app.state.api
    return state
