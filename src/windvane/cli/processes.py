"""The DAG processor in a child process, so the scheduler's process never imports user code.

The child is forked (``multiprocessing`` "fork" context) before the parent
opens its own database connections, and builds its own engine. It stops when
it gets SIGTERM (:func:`stop_processor` sends it) or when its parent dies; it
ignores SIGINT, which a terminal sends to the whole process group: the parent
decides when it stops.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import threading
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess
from types import FrameType

from windvane.cli.jobs import processor_job
from windvane.cli.wiring import create_engine, create_metrics, create_processor, metrics_port
from windvane.core.forking.containment import install as install_containment
from windvane.settings import Settings

log = logging.getLogger("windvane.cli")

#: The ``job_type`` of the DAG processor's row in the ``job`` table.
PROCESSOR_JOB = "dag_processor"
#: Seconds a stopping DAG processor gets before it is killed.
STOP_GRACE_SECONDS = 10.0


def run_processor(settings: Settings, stop: threading.Event) -> None:
    """Run the DAG processor in this process until ``stop`` is set, with its metrics and a
    heartbeating ``dag_processor`` job (``windvane jobs check`` and ``/api/v1/health`` read it)."""
    # Its only children are parse children: what one killed at its timeout leaves comes to it.
    install_containment(settings.core.process_containment, adopt_orphans=True)
    engine = create_engine(settings)
    metrics = create_metrics(settings, engine, service="dag-processor")
    try:
        metrics.start_http_server(metrics_port(settings, "dag-processor"))
        processor = create_processor(settings, engine)
        with processor_job(engine, settings.scheduler.heartbeat_seconds):  # for `windvane jobs check`
            interval = settings.dag_processor.refresh_interval_seconds
            processor.run(
                stop,
                interval,
                on_report=metrics.record_parse,
                on_database_error=metrics.record_processor_db_error,
            )
    finally:
        metrics.close()
        engine.dispose()


def _child_main(settings: Settings) -> None:
    stop = threading.Event()

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_sigterm)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parent = multiprocessing.parent_process()
    if parent is not None:
        threading.Thread(target=_stop_with_parent, args=(parent, stop), daemon=True).start()
    run_processor(settings, stop)


def _stop_with_parent(parent: BaseProcess, stop: threading.Event) -> None:
    wait([parent.sentinel])
    log.warning("the DAG processor's parent process is gone; stopping")
    stop.set()


def start_processor(settings: Settings) -> BaseProcess:
    """Fork the DAG processor child and return it (started)."""
    process = multiprocessing.get_context("fork").Process(
        target=_child_main, args=(settings,), name="windvane-dag-processor"
    )
    process.start()
    log.info("DAG processor started (pid %s) on %s", process.pid, settings.core.dags_folder)
    return process


def stop_processor(process: BaseProcess, grace: float = STOP_GRACE_SECONDS) -> None:
    """SIGTERM the child and wait up to ``grace`` seconds, then SIGKILL it."""
    if process.exitcode is None:
        process.terminate()
        process.join(grace)
    if process.exitcode is None:
        log.warning("the DAG processor (pid %s) did not stop in %g s; killing it", process.pid, grace)
        process.kill()
        process.join()
    log.info("DAG processor stopped (exit code %s)", process.exitcode)
