"""The ``[celery]`` settings as the executor and its workers use them, checked once.

The CLI hands the section over as a mapping (``ExecutorOptions.section``, or
directly for ``windvane celery worker``); :meth:`CeleryConfig.from_section`
checks what only Celery cares about (URL schemes, an rpc:// backend) and names
the key that is wrong.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from windvane.errors import ConfigError

#: The Celery queue name of tasks that kept the operator's default queue.
OPERATOR_DEFAULT_QUEUE = "default"
_BROKER_SCHEMES = ("redis", "rediss", "amqp", "amqps", "pyamqp", "memory")
#: How long a result stays in the backend if the scheduler never reads it (a dead scheduler).
RESULT_EXPIRES_SECONDS = 86_400


@dataclass(frozen=True, slots=True)
class CeleryConfig:
    """The ``[celery]`` section (docs/configuration.md explains each key)."""

    broker_url: str = "redis://127.0.0.1:6379/0"
    result_backend: str = "redis://127.0.0.1:6379/1"
    worker_concurrency: int = 4
    default_queue: str = "default"
    visibility_timeout: float = 3600.0
    prometheus_port: int = 9466
    send_ahead: bool = False

    @classmethod
    def from_section(cls, section: Mapping[str, Any]) -> CeleryConfig:
        """From the ``[celery]`` settings (missing keys keep their defaults)."""
        known = set(cls.__dataclass_fields__)
        config = cls(**{k: v for k, v in section.items() if k in known})
        config.check()
        return config

    def check(self) -> None:
        """:class:`ConfigError` naming the ``[celery]`` key whose value Celery cannot use."""
        scheme = self.broker_url.partition("://")[0].lower()
        if scheme not in _BROKER_SCHEMES:
            raise ConfigError(
                f"[celery] broker_url {self.broker_url.split('@')[-1]!r}: expected a redis:// or amqp:// URL"
            )
        backend = self.result_backend.partition("://")[0].lower()
        if backend in ("rpc", ""):
            raise ConfigError(
                f"[celery] result_backend {self.result_backend!r}: the rpc:// backend (or none) cannot be "
                "read by a scheduler that did not send the task; use a redis:// (or db+) URL"
            )
        if not self.default_queue.strip():
            raise ConfigError("[celery] default_queue must not be empty")

    def queue_for(self, task_queue: str) -> str:
        """The Celery queue of a try whose task says ``queue=task_queue``."""
        if not task_queue or task_queue == OPERATOR_DEFAULT_QUEUE:
            return self.default_queue
        return task_queue

    @property
    def broker_is_redis(self) -> bool:
        return self.broker_url.lower().startswith(("redis://", "rediss://"))
