"""``windvane scheduler | dag-processor | standalone``: the long-running services.

All three stop cleanly on Ctrl-C or SIGTERM: the scheduler stops queueing,
lets running tries finish (the executor ends gracefully) and records its job
as ended; the DAG processor finishes its pass. Beside the scheduler loop run
the services plug-ins declare (:mod:`windvane.cli.services`): started after
the DAG processor is forked, stopped in reverse order when the loop ends.
The console gets a line per finished run and per failed try
(:mod:`windvane.cli.outcomes`).
"""

from __future__ import annotations

import argparse
import threading
from multiprocessing.process import BaseProcess

from windvane.cli.base import EXIT_FAILURE, EXIT_OK, Cli
from windvane.cli.logs import configure_logging
from windvane.cli.outcomes import OutcomeLog
from windvane.cli.processes import run_processor, start_processor, stop_processor
from windvane.cli.services import ServiceRunner
from windvane.cli.signals import stop_on_signals
from windvane.cli.wiring import (
    api_thread,
    create_executor,
    create_metrics,
    create_processor,
    create_scheduler,
    create_services,
    database_url,
    log_folder,
    metrics_port,
    open_engine,
)
from windvane.core.executors import Executor
from windvane.core.scheduler.loop import Scheduler
from windvane.core.scheduler.observer import SafeObserver
from windvane.core.store.engine import begin_read
from windvane.core.store.import_errors import list_import_errors
from windvane.core.store.migrate import migrate
from windvane.core.store.sqlite_lock import SqliteSchedulerLock
from windvane.metrics.executor_queues import queue_metrics_for
from windvane.settings import Settings


def _scheduler(cli: Cli, args: argparse.Namespace) -> int:
    configure_logging(cli.settings, verbose=cli.verbose)
    with open_engine(cli.settings, wait=True):
        pass  # the schema must be current; disposed before forking the DAG processor
    with_processor = not (args.no_processor or cli.settings.dag_processor.standalone)
    return _serve(cli, with_processor=with_processor, num_runs=args.num_runs)


def _dag_processor(cli: Cli, args: argparse.Namespace) -> int:
    configure_logging(cli.settings, verbose=cli.verbose)
    stop = threading.Event()
    with stop_on_signals(stop.set):
        if args.num_runs is None:
            with open_engine(cli.settings, wait=True):
                pass  # fail early, with a clear message, when the schema is not current
            run_processor(cli.settings, stop)
            return EXIT_OK
        with open_engine(cli.settings, wait=True) as engine:
            processor = create_processor(cli.settings, engine)
            for number in range(args.num_runs):
                if number:
                    stop.wait(cli.settings.dag_processor.refresh_interval_seconds)
                if stop.is_set():
                    break
                cli.out.line(processor.run_once().summary())
            with begin_read(engine) as conn:
                errors = list_import_errors(conn)
    if errors:
        # A bounded run is what CI scripts call: a file that does not import must not pass.
        cli.out.error(f"{len(errors)} DAG file(s) failed to import:")
        for error in errors:
            cli.out.note(f"  {error.filename}: {error.stacktrace.strip().splitlines()[-1]}")
        return EXIT_FAILURE
    return EXIT_OK


def _standalone(cli: Cli, args: argparse.Namespace) -> int:
    configure_logging(cli.settings, verbose=cli.verbose)
    settings = cli.settings
    with open_engine(settings, require_schema=False, wait=True) as engine:
        migrate(engine, default_pool_slots=settings.core.default_pool_slots)
    settings.core.dags_folder.mkdir(parents=True, exist_ok=True)
    executor = create_executor(settings)  # fail on a bad executor before anything starts
    lines = [
        "Windvane standalone",
        f"  home:        {settings.home}",
        f"  DAGs folder: {settings.core.dags_folder}",
        f"  database:    {database_url(settings)}",
        f"  logs:        {log_folder(settings)}",
        f"  executor:    {executor.name} (parallelism {executor.parallelism})",
        f"  metrics:     {_metrics_line(settings)}",
        f"  API:         http://{settings.api.host}:{settings.api.port}/api/v1 "
        "(docs: /api/v1/docs; users: 'windvane users create')",
        "Press Ctrl-C to stop.",
    ]
    cli.out.line("\n".join(lines))
    return _serve(cli, with_processor=True, num_runs=None, executor=executor, with_api=True)


def _serve(
    cli: Cli,
    *,
    with_processor: bool,
    num_runs: int | None,
    executor: Executor | None = None,
    with_api: bool = False,
) -> int:
    """Run the scheduler here (and the DAG processor in a child) until stopped.

    Exit code 1 when the DAG processor died on its own (the scheduler then stops too,
    so that a supervisor restarts both).
    """
    processor: BaseProcess | None = start_processor(cli.settings) if with_processor else None
    passes = 0
    processor_died = False

    def until(scheduler: Scheduler) -> bool:
        nonlocal passes, processor_died
        passes += 1
        if processor is not None and processor.exitcode is not None:
            cli.out.error(f"the DAG processor (pid {processor.pid}) exited with code {processor.exitcode}")
            processor_died = True
            return True
        return num_runs is not None and passes >= num_runs

    try:
        with open_engine(cli.settings) as engine, SqliteSchedulerLock(engine):
            metrics = create_metrics(cli.settings, engine, service="scheduler")
            try:
                metrics.start_http_server(metrics_port(cli.settings, "scheduler"))
                outcomes = OutcomeLog(str(log_folder(cli.settings)))
                run_executor = executor or create_executor(cli.settings)
                per_queue = queue_metrics_for(metrics.sink, run_executor)
                observer = SafeObserver([metrics.observer, outcomes, *per_queue])
                scheduler = create_scheduler(cli.settings, engine, executor=run_executor, observer=observer)
                with (
                    stop_on_signals(scheduler.stop),
                    create_services(cli.settings, engine, metrics=metrics.sink),
                    ServiceRunner([api_thread(cli.settings, engine)] if with_api else []),
                ):
                    scheduler.run(until=until)
            finally:
                metrics.close()
    finally:
        if processor is not None:
            stop_processor(processor)
    return EXIT_FAILURE if processor_died else EXIT_OK


def _metrics_line(settings: Settings) -> str:
    # No URL before it listens: a port already taken is only known when binding, which the
    # endpoint logs ("serving Prometheus metrics on <url>" or "cannot serve ... going on without them").
    parts = []
    if settings.metrics.prometheus_on:
        host = settings.metrics.prometheus_host
        parts.append(
            f"Prometheus requested on {host}:{metrics_port(settings, 'scheduler')} (scheduler) and "
            f"{host}:{metrics_port(settings, 'dag-processor')} (DAG processor); "
            "each endpoint logs its URL once it listens, or why it cannot"
        )
    if settings.metrics.statsd_on:
        parts.append(f"StatsD {settings.metrics.statsd_host}:{settings.metrics.statsd_port}")
    return ", ".join(parts) or "off (turn on with [metrics] prometheus_on / statsd_on)"
