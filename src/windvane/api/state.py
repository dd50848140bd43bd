"""What every handler shares: the engine, the config, the login limiter (``app.state.api``)."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request
from sqlalchemy import Engine

from windvane.api.config import ApiConfig
from windvane.api.ratelimit import LoginLimiter


@dataclass(frozen=True)
class ApiState:
    engine: Engine
    config: ApiConfig
    limiter: LoginLimiter


def get_state(request: Request) -> ApiState:
    state: ApiState = request.app.state.api
    return state
