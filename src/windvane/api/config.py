"""What the API application is built from: :class:`ApiConfig` (mapped from ``[api]`` and the
other settings by :func:`from_settings`, the only place the API reads settings)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path

from windvane.settings import Settings
from windvane.tasklogs.remote import RemoteLogs


@dataclass(frozen=True)
class ApiConfig:
    """The API's knobs. ``secret_key`` signs session cookies (an empty one is replaced by a
    random key: sessions then end when the server restarts)."""

    secret_key: str = ""
    session_lifetime_seconds: float = 12 * 3600.0
    login_rate_limit: int = 5
    login_rate_window_seconds: float = 60.0
    secure_cookies: bool = False
    log_folder: Path = Path("logs")
    #: How to fetch a log that is not in ``log_folder`` from the worker that ran the try (None: don't).
    remote_logs: RemoteLogs | None = None
    health_threshold_seconds: float = 30.0
    #: ``[core] parallelism``: the "why isn't this task running?" answer checks executor room with it.
    parallelism: int | None = None
    max_log_chunk_bytes: int = 1 << 20
    #: ``[api] auth_cache_seconds`` and ``dag_list_cache_seconds`` (see api/auth_cache.py, api/page_cache.py).
    auth_cache_seconds: float = 5.0
    dag_list_cache_seconds: float = 10.0
    #: ``[api] list_cache_seconds`` (see api/answer_cache.py; 0: off).
    list_cache_seconds: float = 1.0
    #: ``(section, key, value, source)`` rows of the settings in effect, secrets masked.
    config_rows: tuple[tuple[str, str, str, str], ...] = ()
    signing_key: bytes = field(init=False, repr=False)

    def __post_init__(self) -> None:
        key = self.secret_key.encode() if self.secret_key else secrets.token_bytes(32)
        object.__setattr__(self, "signing_key", key)


def from_settings(settings: Settings) -> ApiConfig:
    """``[api]`` (and the log folder, health threshold, redacted settings) as an :class:`ApiConfig`."""
    api = settings.api
    return ApiConfig(
        secret_key=api.secret_key,
        session_lifetime_seconds=api.session_lifetime_seconds,
        login_rate_limit=api.login_rate_limit,
        login_rate_window_seconds=api.login_rate_window_seconds,
        secure_cookies=api.secure_cookies,
        log_folder=settings.logging.base_log_folder,
        remote_logs=RemoteLogs(
            port=settings.celery.worker_log_server_port,
            secret=settings.celery.worker_log_server_secret,
            timeout_seconds=settings.celery.worker_log_fetch_timeout_seconds,
        ),
        health_threshold_seconds=settings.scheduler.health_check_threshold_seconds,
        parallelism=settings.core.parallelism,
        auth_cache_seconds=api.auth_cache_seconds,
        dag_list_cache_seconds=api.dag_list_cache_seconds,
        list_cache_seconds=api.list_cache_seconds,
        config_rows=tuple(settings.as_rows(mask_secrets=True)),
    )
