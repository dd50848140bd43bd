"""The worker's side of one try: the Celery task ``windvane.run_try``.

It runs in a pool process of ``windvane celery worker`` (prefork): each pool
process is warmed up once when it starts (:func:`warm_process`: connect,
rehearse a try, freeze the heap, as a LocalExecutor worker does), then every
try is claimed, run in another process and recorded by
:func:`~windvane.core.worker.runner.run_workload`, the same code as the local
executor's, with its guards: the claim (``state='queued' AND try_number AND
queued_by_job_id``) is what makes a try run at most once. The other process is a
child forked for the try, or, with ``[celery] tries_per_process`` above 1, the pool
process's *try host* for the try's DAG file (:mod:`windvane.core.worker.try_host`,
as a local worker's): a fork of a pool process costs more CPU than a no-op try.

A message delivered a second time (the broker redelivers a message whose worker
died, or, on Redis, one not acknowledged within ``visibility_timeout``) finds
its try claimed already: the task raises :class:`celery.exceptions.Ignore`, so
it stores nothing and cannot overwrite the result of the delivery that ran.
A claim that fails for another reason (the try was cleared or re-queued) is
reported as an event with ``state=None``, as every executor does.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import multiprocessing
import threading
import time
from dataclasses import dataclass, field
from multiprocessing.synchronize import Event as EventType
from typing import Any

from celery.exceptions import Ignore

from windvane.celery.messages import event_to_dict, reply_key_of, workload_from_dict
from windvane.celery.reporting import ResultWriter
from windvane.celery.retirements import SharedRetirements
from windvane.core.forking.containment import install as install_containment
from windvane.core.model.secrets_config import SecretsConfig
from windvane.core.model.states import TaskInstanceState
from windvane.core.model.workload import TaskEvent, Workload
from windvane.core.store.raw import RawDb
from windvane.core.store.try_lifecycle import make_event
from windvane.core.store.try_position import try_position
from windvane.core.task_api.mailer import SmtpParams, install_smtp_params
from windvane.core.worker.dag_loader import DagLoader
from windvane.core.worker.final_write import OutcomeRecords, stop_retrying_by
from windvane.core.worker.rehearsal import rehearse
from windvane.core.worker.runner import MIB, run_workload
from windvane.core.worker.secrets_setup import install_secrets
from windvane.core.worker.try_host import TryHosts

log = logging.getLogger(__name__)
#: States of a try's row that mean a delivery of the same try number claimed it already.
_CLAIMED = frozenset(
    s.value
    for s in (
        TaskInstanceState.RUNNING,
        TaskInstanceState.SUCCESS,
        TaskInstanceState.FAILED,
        TaskInstanceState.UP_FOR_RETRY,
        TaskInstanceState.SKIPPED,
    )
)


@dataclass(frozen=True, slots=True)
class WorkerOptions:
    """What a Celery worker needs besides ``[celery]`` (the CLI builds it from the settings)."""

    db_url: str
    log_folder: str
    hostname: str
    heartbeat_seconds: float = 5.0
    max_log_bytes: int = 0
    memory_limit_mib: int = 0
    outcome_folder: str = ""
    timeout_grace_seconds: float = 5.0
    kill_grace_seconds: float = 5.0
    #: Longest one task callback may run in a try's process (``[core] callback_timeout_seconds``).
    callback_timeout_seconds: float = 60.0
    #: The ``[smtp]`` server tasks send email through (installed in each pool process).
    smtp: SmtpParams | None = None
    #: Where tries find Connections and Variables (installed in each pool process).
    secrets: SecretsConfig | None = None
    #: How long a claim the database refuses is retried (``[database] max_outage_seconds``).
    max_outage_seconds: float = 300.0
    #: ``[core] process_containment``, installed in each pool process (which adopts orphans).
    process_containment: str = "auto"
    #: ``[executor] worker_stop_grace_seconds``: how long a pool process of a worker being stopped
    #: (warm shutdown) keeps retrying a final write the database refuses.
    stop_grace_seconds: float = 30.0
    #: ``[celery] tries_per_process``: tries of one DAG file a pool process runs in one forked
    #: process (its try host), one after the other; 1: a fork per try.
    tries_per_process: int = 100


@dataclass
class _Process:
    options: WorkerOptions
    loader: DagLoader = field(default_factory=DagLoader)
    db: RawDb | None = None
    writer: ResultWriter | None = None
    hosts: TryHosts | None = None
    #: Set by the worker's main process when it begins to stop; pool processes (forked after it
    #: was made) watch it (:func:`watch_stopping`).
    stopping: EventType = field(default_factory=multiprocessing.Event)
    #: The try-host retirements of every pool process (made before they fork, like ``stopping``).
    retirements: SharedRetirements = field(default_factory=SharedRetirements)


_PROCESS: _Process | None = None


def configure(options: WorkerOptions) -> None:
    """Set what this worker's pool processes use (before the pool starts: they inherit it)."""
    global _PROCESS
    _PROCESS = _Process(options)


def _process() -> _Process:
    if _PROCESS is None:
        raise RuntimeError("windvane.celery.task.configure() was not called in this worker")
    return _PROCESS


def retirement_totals() -> dict[str, int]:
    """The try-host retirements of this worker's pool processes so far, by reason (any process)."""
    return _process().retirements.totals()


def begin_stopping(**_: Any) -> None:
    """``worker_shutting_down`` (the main process): from now on the pool processes give up a
    failing final write within ``stop_grace_seconds`` (the outcome stays in its record)."""
    if _PROCESS is not None:
        _PROCESS.stopping.set()


def watch_stopping(process: _Process) -> threading.Thread:
    """In a pool process: a daemon thread that, once the worker begins to stop, bounds the final
    write's retries by ``stop_grace_seconds`` (:func:`~windvane.core.worker.final_write.stop_retrying_by`),
    as a LocalExecutor worker's SIGTERM does."""

    def watch() -> None:
        process.stopping.wait()
        stop_retrying_by(process.options.stop_grace_seconds)

    thread = threading.Thread(target=watch, name="windvane-stop-watch", daemon=True)
    thread.start()
    return thread


def warm_process(**_: Any) -> None:
    """``worker_process_init``: a connection of its own, a rehearsed try, a frozen heap."""
    process = _process()
    watch_stopping(process)
    # A pool process's only children are its tries: what one killed with SIGKILL leaves comes to it.
    install_containment(process.options.process_containment, adopt_orphans=True)
    install_smtp_params(process.options.smtp)
    try:
        install_secrets(process.options.secrets)
    except Exception:  # each try that reads a secret then fails saying it is not configured
        log.exception("Celery worker process could not set up its secrets backends")
    process.db = RawDb(process.options.db_url)
    process.loader = DagLoader()
    process.hosts = _hosts(process.options, process.loader)
    try:
        process.db.read(lambda tx: None)
    except Exception as exc:  # each try reports its own failure if it stays down
        log.warning("Celery worker process cannot reach the database yet: %s", exc)
    try:
        rehearse(process.db.url)
    except Exception:  # only speed is at stake
        log.exception("Celery worker process could not rehearse a try; tries will start cold")
    gc.collect()
    gc.freeze()


def _hosts(options: WorkerOptions, loader: DagLoader) -> TryHosts | None:
    """A try host per DAG file, unless every try must be a process of its own (as for local
    workers: :func:`~windvane.core.executors.local_worker.uses_try_hosts`)."""
    if options.tries_per_process < 2 or options.memory_limit_mib > 0:
        return None
    if options.process_containment == "cgroup":
        return None
    return TryHosts(
        loader,
        tries_per_process=options.tries_per_process,
        memory_limit_bytes=options.memory_limit_mib * MIB,
        kill_grace=options.kill_grace_seconds,
    )


def close_process(**_: Any) -> None:
    """``worker_process_shutdown``: the pool process's try host ends with it."""
    process = _PROCESS
    if process is not None and process.hosts is not None:
        hosts, process.hosts = process.hosts, None
        with contextlib.suppress(Exception):
            hosts.close()


def run_try(task: Any, body: Any) -> dict[str, Any]:
    """The body of ``windvane.run_try`` (``task`` is the bound Celery task)."""
    workload = workload_from_dict(body)
    process = _process()
    if process.db is None:  # a solo pool, or a worker started without the init signal
        warm_process()
    assert process.db is not None
    if process.writer is None:
        process.writer = ResultWriter(task.app)
    writer, task_id = process.writer, str(task.request.id)
    imports = process.loader.imports

    reply_to = reply_key_of(body)

    def on_running(event: TaskEvent) -> None:
        writer.started(task_id, event, reply_to)

    event = _run(workload, process, process.db, on_running)
    if process.hosts is not None:
        process.retirements.add(process.hosts.take_retirements())
    if process.loader.imports != imports:
        _refreeze()
    if event.state is None and _claimed_already(process.db, workload):
        log.warning(
            "ignored a second delivery of %s try %d: it was claimed already",
            workload.key,
            workload.try_number,
        )
        raise Ignore()
    writer.finished(task_id, event, reply_to)
    return event_to_dict(event)  # not stored again: the task ignores its result


def _run(workload: Workload, process: _Process, db: RawDb, on_running: Any) -> TaskEvent:
    options = process.options
    try:
        return run_workload(
            workload,
            db=db,
            loader=process.loader,
            log_folder=options.log_folder,
            hostname=options.hostname,
            heartbeat_seconds=options.heartbeat_seconds,
            timeout_grace_seconds=options.timeout_grace_seconds,
            kill_grace_seconds=options.kill_grace_seconds,
            on_running=on_running,
            max_log_bytes=options.max_log_bytes,
            memory_limit_mib=options.memory_limit_mib,
            outcome_records=OutcomeRecords(options.outcome_folder) if options.outcome_folder else None,
            callback_timeout_seconds=options.callback_timeout_seconds,
            claim_give_up_seconds=options.max_outage_seconds,
            hosts=process.hosts,
        )
    except Exception as exc:  # the database failed us; a try left 'running' goes to the zombie sweep
        log.exception("could not run %s try %d", workload.key, workload.try_number)
        error = f"the worker could not run or record the try: {type(exc).__name__}: {exc}"
        return make_event(workload, None, time.time(), error=error)


def _claimed_already(db: RawDb, workload: Workload) -> bool:
    try:
        position = try_position(db, workload.ti_id)
    except Exception:
        return False
    return position is not None and position.try_number == workload.try_number and position.state in _CLAIMED


def _refreeze() -> None:
    """A DAG file was imported: freeze its objects too (see the local worker)."""
    with contextlib.suppress(Exception):
        gc.unfreeze()
        gc.collect()
        gc.freeze()
