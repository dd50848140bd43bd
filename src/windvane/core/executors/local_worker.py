"""The loop of one LocalExecutor worker process.

A worker is forked from the executor's (warm) process. It creates its own
database engine and :class:`~windvane.core.dag_loader.DagLoader`, then takes
workloads from its pipe one at a time and runs each with
:func:`~windvane.core.task_runner.run_workload`. Messages it sends back:

* ``("running", TaskEvent, retry_delay_seconds | None)`` when it claimed a try
  (the delay is what the executor uses if this worker dies mid-try);
* ``("done", TaskEvent)`` when the try's final state is written.

It stops on a ``None`` message, on end of file (the executor is gone: the try
in hand is finished and recorded, no new one starts) and on SIGTERM (the try
in hand is killed and recorded as failed). SIGINT is ignored: the executor
decides when workers stop.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from types import FrameType

from sqlalchemy import Engine

from windvane.core.dag_loader import DagLoader
from windvane.core.execution import failure_state, retry_delay
from windvane.core.executors.base import TaskEvent, Workload
from windvane.core.states import TaskInstanceState
from windvane.core.task_process import terminate_current
from windvane.core.task_runner import DEFAULT_RETRY_DELAY, run_workload

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    db_url: str
    log_folder: str
    hostname: str
    heartbeat_seconds: float
    engine_factory: Callable[[str], Engine]
    timeout_grace_seconds: float
    kill_grace_seconds: float


class _Stop(BaseException):
    """Raised by the SIGTERM handler while the worker is idle."""


class _State:
    busy = False
    stopping = False


def worker_main(conn: Connection, config: WorkerConfig, inherited: Sequence[Connection | int]) -> None:
    """Entry point of the worker process (``multiprocessing`` fork context)."""
    for item in inherited:  # the executor's ends of other pipes: holding them would hide its death
        with contextlib.suppress(OSError):
            item.close() if isinstance(item, Connection) else os.close(item)
    os.register_at_fork(after_in_child=conn.close)  # nor may a task child hold this worker's pipe
    executor_pid = os.getppid()
    state = _State()

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        state.stopping = True
        if not state.busy:
            raise _Stop
        terminate_current("the worker was stopped")

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, on_sigterm)
    engine = config.engine_factory(config.db_url)
    loader = DagLoader()
    try:
        while not state.stopping:
            try:
                message = conn.recv()
            except (EOFError, OSError):
                return
            if message is None or os.getppid() != executor_pid:
                return
            state.busy = True
            event = _run(message, conn, engine, loader, config)
            try:
                conn.send(("done", event))
            except OSError:
                return
            state.busy = False  # only now may SIGTERM interrupt us (not in the middle of a send)
    except _Stop:
        return
    finally:
        engine.dispose()


def _run(
    workload: Workload, conn: Connection, engine: Engine, loader: DagLoader, config: WorkerConfig
) -> TaskEvent:
    def on_running(event: TaskEvent) -> None:
        with contextlib.suppress(OSError):  # the executor is gone: finish the try anyway
            conn.send(("running", event, _retry_delay_seconds(loader, workload)))

    try:
        return run_workload(
            workload,
            engine=engine,
            loader=loader,
            log_folder=config.log_folder,
            hostname=config.hostname,
            heartbeat_seconds=config.heartbeat_seconds,
            timeout_grace_seconds=config.timeout_grace_seconds,
            kill_grace_seconds=config.kill_grace_seconds,
            on_running=on_running,
        )
    except Exception as exc:  # the database failed us; the try stays 'running' for the zombie sweep
        log.exception(
            "worker could not run %s.%s try %d", workload.dag_id, workload.task_id, workload.try_number
        )
        return TaskEvent(
            ti_id=workload.ti_id,
            dag_run_id=workload.dag_run_id,
            dag_id=workload.dag_id,
            task_id=workload.task_id,
            try_number=workload.try_number,
            state=None,
            error=f"the worker could not run or record the try: {type(exc).__name__}: {exc}",
        )


def _retry_delay_seconds(loader: DagLoader, workload: Workload) -> float | None:
    if failure_state(workload.try_number, workload.max_tries) is not TaskInstanceState.UP_FOR_RETRY:
        return None
    try:
        task = loader.get_dag(workload.fileloc, workload.dag_id).get_task(workload.task_id)
    except Exception:
        return DEFAULT_RETRY_DELAY.total_seconds()
    return retry_delay(task, workload.try_number).total_seconds()
