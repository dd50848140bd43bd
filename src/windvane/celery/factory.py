"""The entry point of the ``celery`` executor: importable without Celery installed.

Declared in ``pyproject.toml`` (``windvane.executors``: ``celery =
windvane.celery.factory:create``). Without Celery the executor cannot be built
and the error says how to install it.
"""

from __future__ import annotations

from windvane.core.executors import Executor, ExecutorOptions
from windvane.errors import ExecutorError


def create(options: ExecutorOptions) -> Executor:
    """A :class:`~windvane.celery.executor.CeleryExecutor` from the executor options and ``[celery]``."""
    try:
        import celery  # noqa: F401 (only to say what is missing)
    except ImportError as exc:
        raise ExecutorError(
            "executor 'celery' needs Celery, which is not installed: pip install 'windvane[celery]'"
        ) from exc
    from windvane.celery.config import CeleryConfig
    from windvane.celery.executor import CeleryExecutor

    config = CeleryConfig.from_section(options.section)
    return CeleryExecutor(
        options.parallelism, config=config, db_url=options.db_url, send_ahead=config.send_ahead
    )
