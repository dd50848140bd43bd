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
import os
import signal
import socket
import threading
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess
from types import FrameType

import pendulum
from sqlalchemy import Engine

from windvane.cli.wiring import create_engine, create_metrics, create_processor, metrics_port
from windvane.core.processor.report import ParseReport
from windvane.core.store import jobs
from windvane.core.store.engine import begin_write
from windvane.settings import Settings

log = logging.getLogger("windvane.cli")

#: The ``job_type`` of the DAG processor's row in the ``job`` table.
PROCESSOR_JOB = "dag_processor"
#: Seconds a stopping DAG processor gets before it is killed.
STOP_GRACE_SECONDS = 10.0


def run_processor(settings: Settings, stop: threading.Event) -> None:
    """Run the DAG processor in this process until ``stop`` is set, with its metrics and a
    ``dag_processor`` job whose heartbeat every pass records (``/api/v1/health`` reads it)."""
    engine = create_engine(settings)
    metrics = create_metrics(settings, engine, service="dag-processor")
    beat = ProcessorHeartbeat(engine)
    try:
        metrics.start_http_server(metrics_port(settings, "dag-processor"))
        processor = create_processor(settings, engine)

        def on_report(report: ParseReport) -> None:
            beat.beat()
            metrics.record_parse(report)

        processor.run(stop, settings.dag_processor.refresh_interval_seconds, on_report=on_report)
    finally:
        beat.finish()
        metrics.close()
        engine.dispose()


class ProcessorHeartbeat:
    """The DAG processor's row in the ``job`` table. An observer: a failing write is logged and
    the processor goes on parsing."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._job_id: int | None = None

    def beat(self) -> None:
        now = pendulum.now("UTC")
        try:
            with begin_write(self._engine) as conn:
                if self._job_id is None:
                    pid = os.getpid()
                    self._job_id = jobs.start_job(
                        conn, PROCESSOR_JOB, hostname=socket.getfqdn(), pid=pid, now=now
                    )
                else:
                    jobs.heartbeat(conn, self._job_id, now)
        except Exception:
            log.exception("could not record the DAG processor's heartbeat")

    def finish(self) -> None:
        if self._job_id is None:
            return
        try:
            with begin_write(self._engine) as conn:
                jobs.finish_job(conn, self._job_id, now=pendulum.now("UTC"))
        except Exception:
            log.exception("could not record the end of the DAG processor's job")


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
