"""``windvane celery worker [--queues a,b] [--concurrency N]``: run tries sent by the Celery executor.

Reads ``[celery]``, ``[database]``, ``[logging]`` and ``[executor]`` once and
starts :func:`windvane.celery.worker.run_worker`; with ``[metrics]
prometheus_on`` the worker serves ``/metrics`` on ``[celery] prometheus_port`` (and sends to
StatsD with ``statsd_on``).
Needs the ``windvane[celery]`` extra.
"""

from __future__ import annotations

import argparse
import os
import socket
import threading
from typing import TYPE_CHECKING

from windvane.cli.base import Cli
from windvane.cli.logs import configure_logging
from windvane.cli.wiring import create_metrics, executor_section, log_folder, secrets_config, smtp_params
from windvane.errors import ConfigError, ExecutorError
from windvane.settings import Settings

if TYPE_CHECKING:
    from windvane.celery.task import WorkerOptions


def _worker(cli: Cli, args: argparse.Namespace) -> int:
    try:
        from windvane.celery.config import CeleryConfig
        from windvane.celery.worker import run_worker
        from windvane.celery.worker_metrics import WorkerMetrics
    except ImportError as exc:
        raise ExecutorError(
            f"'windvane celery worker' needs Celery ({exc}): pip install 'windvane[celery]'"
        ) from exc
    settings = cli.settings
    configure_logging(settings, verbose=cli.verbose)
    config = CeleryConfig.from_section(executor_section(settings, "celery"))
    options = worker_options(settings)
    level = settings.logging.level
    concurrency = args.concurrency or config.worker_concurrency
    bundle = create_metrics(settings, None, service="celery-worker")
    stop = threading.Event()

    def on_ready(app: object) -> None:
        queues = ",".join(args.queues or (config.default_queue,))
        cli.out.note(f"windvane celery worker ready: queues {queues}")
        if bundle.enabled:
            bundle.start_http_server(config.prometheus_port)
            WorkerMetrics(bundle.sink, concurrency).run(stop)

    try:
        return run_worker(
            config, options, queues=args.queues, concurrency=concurrency, loglevel=level, on_ready=on_ready
        )
    finally:
        stop.set()
        bundle.close()


def worker_options(settings: Settings) -> WorkerOptions:
    """The worker's options from the settings (the same folders and limits as local workers)."""
    from windvane.celery.task import WorkerOptions

    if not settings.database.sql_alchemy_conn:
        raise ConfigError("[database] sql_alchemy_conn is empty: a Celery worker needs the metadata database")
    return WorkerOptions(
        db_url=settings.database.sql_alchemy_conn,
        log_folder=str(log_folder(settings)),
        hostname=socket.gethostname(),
        heartbeat_seconds=settings.executor.worker_heartbeat_seconds,
        max_log_bytes=settings.logging.max_log_bytes,
        memory_limit_mib=settings.executor.task_memory_limit_mib,
        process_containment=settings.core.process_containment,
        outcome_folder=str(settings.executor.outcome_folder),
        callback_timeout_seconds=settings.core.callback_timeout_seconds,
        smtp=smtp_params(settings),
        secrets=secrets_config(settings, os.environ),
        max_outage_seconds=settings.database.max_outage_seconds,
    )
