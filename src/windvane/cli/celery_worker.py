"""``windvane celery worker [--queues a,b] [--concurrency N]``: run tries sent by the Celery executor.

Reads ``[celery]``, ``[database]``, ``[logging]`` and ``[executor]`` once and
starts :func:`windvane.celery.worker.run_worker`; with ``[metrics]
prometheus_on`` the worker serves ``/metrics`` on ``[celery] prometheus_port`` (and sends to
StatsD with ``statsd_on``), and with ``[celery] worker_log_server_secret`` it serves its log
folder to ``tasks logs`` and the API of other machines (``worker_log_server_port``).
Needs the ``windvane[celery]`` extra.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import socket
import threading
from typing import TYPE_CHECKING

from windvane.cli.base import Cli
from windvane.cli.logs import configure_logging
from windvane.cli.wiring import create_metrics, executor_section, log_folder, secrets_config, smtp_params
from windvane.core.worker import db_errors
from windvane.errors import ConfigError, ExecutorError
from windvane.settings import Settings

if TYPE_CHECKING:
    from windvane.celery.task import WorkerOptions
    from windvane.tasklogs.server import LogServer


def _worker(cli: Cli, args: argparse.Namespace) -> int:
    try:
        from windvane.celery.config import CeleryConfig
        from windvane.celery.task import retirement_totals
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
    servers: list[LogServer] = []
    # The pool processes (forked from this one) add their transient database errors here.
    shared_errors = multiprocessing.Value("q", 0)

    def on_ready(app: object) -> None:
        server = serve_logs(cli, settings)
        if server is not None:
            servers.append(server)
        queues = ",".join(args.queues or (config.default_queue,))
        cli.out.note(f"windvane celery worker ready: queues {queues}")
        if bundle.enabled:
            bundle.start_http_server(config.prometheus_port)
            WorkerMetrics(bundle.sink, concurrency, db_errors=errors, retirements=retirement_totals).run(stop)

    def errors() -> int:
        return int(shared_errors.value)

    def in_pool_process() -> None:
        db_errors.share(shared_errors)
        for server in servers:  # a pool process forked later must not hold the listening socket
            server.close_in_child()

    try:
        return run_worker(
            config, options, queues=args.queues, concurrency=concurrency, loglevel=level, on_ready=on_ready,
            on_pool_process=in_pool_process,
        )  # fmt: skip
    finally:
        stop.set()
        for server in servers:
            server.stop()
        bundle.close()


def serve_logs(cli: Cli, settings: Settings) -> LogServer | None:
    """The worker's log server on ``[celery] worker_log_server_port`` (None: off, or no secret)."""
    from windvane.tasklogs.server import LogServer

    celery = settings.celery
    if celery.worker_log_server_port == 0:
        return None
    if not celery.worker_log_server_secret:
        cli.out.note(
            "windvane celery worker serves no logs: [celery] worker_log_server_secret is empty "
            "(tasks logs elsewhere needs a shared log folder)"
        )
        return None
    try:
        server = LogServer(
            log_folder(settings), secret=celery.worker_log_server_secret,
            host=celery.worker_log_server_host, port=celery.worker_log_server_port,
        ).start()  # fmt: skip
    except OSError as exc:
        raise ConfigError(
            f"[celery] worker_log_server_port {celery.worker_log_server_port}: cannot serve logs on "
            f"{celery.worker_log_server_host}: {exc}"
        ) from exc
    cli.out.note(f"windvane celery worker serves its logs on {celery.worker_log_server_host}:{server.port}")
    return server


def worker_options(settings: Settings) -> WorkerOptions:
    """The worker's options from the settings (the same folders and limits as local workers)."""
    from windvane.celery.task import WorkerOptions

    if not settings.database.sql_alchemy_conn:
        raise ConfigError("[database] sql_alchemy_conn is empty: a Celery worker needs the metadata database")
    return WorkerOptions(
        db_url=settings.database.sql_alchemy_conn,
        log_folder=str(log_folder(settings)),
        hostname=settings.celery.worker_hostname or socket.gethostname(),
        heartbeat_seconds=settings.executor.worker_heartbeat_seconds,
        max_log_bytes=settings.logging.max_log_bytes,
        memory_limit_mib=settings.executor.task_memory_limit_mib,
        process_containment=settings.core.process_containment,
        outcome_folder=str(settings.executor.outcome_folder),
        callback_timeout_seconds=settings.core.callback_timeout_seconds,
        smtp=smtp_params(settings),
        secrets=secrets_config(settings, os.environ),
        max_outage_seconds=settings.database.max_outage_seconds,
        stop_grace_seconds=settings.executor.worker_stop_grace_seconds,
        tries_per_process=settings.celery.tries_per_process,
    )
