"""The LocalExecutor worker: a lean, long-lived interpreter that runs one try at a time.

The executor starts each worker once as a *fresh* interpreter
(:func:`worker_command`), not as a fork of itself: a fork would carry the
scheduler's ~60 MB (SQLAlchemy, the scheduler, the CLI) into every per-try
fork. The worker imports only what running a try needs — Windvane's
authoring and execution modules and the database driver, never SQLAlchemy —
(~17 MB, ~26 MB with psycopg, against ~60 MB), connects, rehearses a no-op try
in-process (:mod:`windvane.core.worker.rehearsal`: the code every try runs is
imported and specialised once, here, not in each child), freezes what it has
into GC's permanent generation (:func:`gc.freeze`, again after each DAG file it
imports) so per-try children neither walk nor copy it, then runs each try in a
child forked from itself (:func:`~windvane.core.worker.runner.run_workload`).

Protocol, over one socket pair (pickled messages): the executor first sends a
:class:`WorkerConfig`, then :class:`~windvane.core.executors.base.Workload`
objects one at a time, or None to stop. The worker answers

* ``("ready",)`` once, when it has warmed up and takes work (the executor hands
  workloads only to ready workers, so a try never waits for one worker's start
  while another is idle);
* ``("running", TaskEvent, retry_delay_seconds | None)`` when it claimed a try
  (the delay is what the executor uses if this worker dies mid-try);
* ``("done", TaskEvent, commits, statements, db_errors, retirements)`` when the try's final state
  is written (``commits``: the write transactions the try took; ``statements``: the SQL statements;
  ``db_errors``: the transient database errors its claim, heartbeats and final write rode out,
  :mod:`windvane.core.worker.db_errors`; ``retirements``: try hosts retired since the last
  ``done``, by reason, :class:`~windvane.core.worker.try_host.TryHosts`);
* ``("returned", Workload)`` for a workload sent ahead that it hands back unstarted.

A workload may arrive while a try runs (the executor sends one *ahead* to a busy worker when
every worker is busy): the transaction that records the current try's outcome then claims it
too (:class:`~windvane.core.store.try_claim.ClaimNext`: one commit for both, under the same
queued guard), and the worker runs it next without waiting for a message. A try still running
after :data:`~windvane.core.worker.runner.FOLLOW_HOLD_SECONDS` hands the workload sent ahead
back, so it never waits behind a long try.

It stops on None, on end of file or when its parent changed (the executor is
gone: the try in hand is finished and recorded, no new one starts) and on
SIGTERM (the try in hand is killed and recorded as failed). A stopping worker starts no try it
was sent ahead: one it already claimed with the last finish is given back (``running -> queued``,
:func:`~windvane.core.store.try_claim.unclaim_try`) and, like one not claimed, handed back to the
executor (``("returned", Workload)``), which gives it to another worker or, ending itself, leaves
it queued for the next scheduler. On Linux the kernel
sends it SIGUSR1 when the executor dies (``PR_SET_PDEATHSIG``): an idle or
still-starting worker exits at once instead of warming up for nobody (after a
``kill -9`` of a scheduler with 32 workers starting, those orphans held the
CPU for seconds while the restarted scheduler's workers warmed up); a busy one
finishes its try first. SIGINT is ignored: the executor decides when workers stop.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import signal
import sys
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from types import FrameType

import windvane
from windvane.core.executors.worker_inbox import Follow, Inbox
from windvane.core.forking.child import signal_on_parent_death
from windvane.core.forking.containment import install as install_containment
from windvane.core.forking.supervise import terminate_current
from windvane.core.model.outcome import failure_state
from windvane.core.model.secrets_config import SecretsConfig
from windvane.core.model.states import TaskInstanceState
from windvane.core.model.workload import TaskEvent, Workload
from windvane.core.store.raw import RawDb
from windvane.core.store.raw_sql import Tx
from windvane.core.store.try_claim import Claim, unclaim_try
from windvane.core.store.try_lifecycle import make_event
from windvane.core.task_api.mailer import SmtpParams, install_smtp_params
from windvane.core.worker import db_errors
from windvane.core.worker.dag_loader import MAX_CACHED_FILES, DagLoader
from windvane.core.worker.execution import retry_delay
from windvane.core.worker.final_write import OutcomeRecords, replay_outcomes, stop_retrying_by
from windvane.core.worker.rehearsal import rehearse
from windvane.core.worker.runner import DEFAULT_RETRY_DELAY, MIB, run_workload
from windvane.core.worker.secrets_setup import install_secrets
from windvane.core.worker.try_host import TryHosts

log = logging.getLogger(__name__)
#: The format of the executor's own log lines (:mod:`windvane.cli.logs`); workers log to the same stderr.
_LOG_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
#: ``[executor] tries_per_process``'s default: try hosts (issue 15: a fork per try costs 3-4x the CPU).
DEFAULT_TRIES_PER_PROCESS = 100
_ENTRY = "import sys; sys.path.insert(0, {root!r}); from {module} import main; main()"


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    db_url: str
    log_folder: str
    hostname: str
    heartbeat_seconds: float
    timeout_grace_seconds: float
    kill_grace_seconds: float
    #: The executor's process id: a worker whose parent is another process never starts a try.
    executor_pid: int
    #: The executor's ``sys.path``, so DAG files import what they imported there.
    sys_path: tuple[str, ...]
    #: The level of the executor's root logger; the worker logs to stderr at it.
    log_level: int = logging.WARNING
    #: The cap on one try's log file (0: none).
    max_log_bytes: int = 0
    #: The address-space cap of one try, in MiB (0: none).
    memory_limit_mib: int = 0
    #: Where finished tries' outcomes are kept until written ("": in memory only).
    outcome_folder: str = ""
    #: Where tries find Connections and Variables (installed once; task children inherit it).
    secrets: SecretsConfig | None = None
    #: Longest one task callback may run in a try's process (``[core] callback_timeout_seconds``).
    callback_timeout_seconds: float = 60.0
    #: The ``[smtp]`` server tasks send email through (installed before any try runs).
    smtp: SmtpParams | None = None
    #: How long a claim the database refuses (a dropped connection, a lock) is retried.
    max_outage_seconds: float = 300.0
    #: ``[core] process_containment``, installed when the worker starts (it adopts orphans).
    process_containment: str = "auto"
    #: ``[executor] worker_stop_grace_seconds``: how long a stopping worker retries a final write.
    stop_grace_seconds: float = 30.0
    #: Tries of one DAG file one forked process runs (1: a fork per try; see
    #: :mod:`windvane.core.worker.try_host` and :func:`uses_try_hosts`).
    tries_per_process: int = DEFAULT_TRIES_PER_PROCESS
    #: DAG files a worker keeps imported (least recently used dropped past it).
    max_cached_dag_files: int = MAX_CACHED_FILES


def uses_try_hosts(config: WorkerConfig) -> bool:
    """Whether tries run in try hosts: ``tries_per_process`` above 1, unless each try must be a
    process of its own, with its own limit (``task_memory_limit_mib``) or cgroup (``process_containment
    = "cgroup"`` asked for by name; ``auto`` takes try hosts)."""
    if config.tries_per_process < 2:
        return False
    return config.memory_limit_mib <= 0 and config.process_containment != "cgroup"


def worker_command(fd: int) -> list[str]:
    """The command line of a worker talking over the inherited socket ``fd``."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(windvane.__file__)))
    return [sys.executable, "-c", _ENTRY.format(root=root, module=__name__), str(fd)]


class _Stop(BaseException):
    """Raised by the SIGTERM handler while the worker is idle."""


class _State:
    busy = False
    stopping = False
    executor_pid = 0
    stop_grace_seconds = 30.0


def main() -> None:
    """Entry point of a worker process (see :func:`worker_command`)."""
    state = _State()

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        state.stopping = True
        stop_retrying_by(state.stop_grace_seconds)  # a final write failing past it stays in its record
        if not state.busy:
            raise _Stop
        terminate_current("the worker was stopped")

    def on_orphaned(signum: int, frame: FrameType | None) -> None:
        # PDEATHSIG follows the *thread* that started us: act only if the executor process is gone.
        if os.getppid() == state.executor_pid:
            return
        state.stopping = True
        if not state.busy:  # nothing in hand: a try it was sent goes back to the next scheduler
            os._exit(0)  # not an exception: one raised in a finalizer or callback is swallowed

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, on_sigterm)
    signal.signal(signal.SIGUSR1, on_orphaned)
    conn = Connection(int(sys.argv[1]))
    os.register_at_fork(after_in_child=conn.close)  # a task child must not hold this worker's socket
    try:
        config: WorkerConfig = conn.recv()
        state.executor_pid = config.executor_pid
        state.stop_grace_seconds = config.stop_grace_seconds
        signal_on_parent_death(signal.SIGUSR1)
        if config.executor_pid and os.getppid() != config.executor_pid:
            return  # the executor died before this worker was told to signal it
        sys.path[:] = config.sys_path
        # Its only children are its tries: what a try killed with SIGKILL leaves comes to it.
        install_containment(config.process_containment, adopt_orphans=True)
        install_smtp_params(config.smtp)
        _configure_logging(config.log_level)
        _install_secrets(config)
        db = RawDb(config.db_url)
        _warm_up(db)
        records = _records(config)
        if records is not None:  # outcomes a dead worker could not write: before any new work
            try:
                replay_outcomes(db, records)
            except Exception:
                log.exception("worker could not replay the outcomes left in %s", records.folder)
        conn.send(("ready",))
        _serve(conn, db, config, state)
    except (_Stop, EOFError, OSError):
        return


def _install_secrets(config: WorkerConfig) -> None:
    try:
        install_secrets(config.secrets)
    except Exception:  # each try that reads a secret then fails saying it is not configured
        log.exception("worker could not set up its secrets backends")


def _records(config: WorkerConfig) -> OutcomeRecords | None:
    return OutcomeRecords(config.outcome_folder) if config.outcome_folder else None


def _configure_logging(level: int) -> None:
    """The worker's own lines go to stderr at ``level``. The root logger itself stays at INFO,
    the level a try logs at, so a child never has to change it (which clears every logger's cache,
    touching pages it would then copy)."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter(_LOG_FORMAT))
    handler.setLevel(level)
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)


def _warm_up(db: RawDb) -> None:
    """Connect, and rehearse a try, now, once: what every child would otherwise pay for; then
    freeze it all."""
    try:
        db.read(lambda tx: None)
    except Exception as exc:  # the database may come back: each try reports its own failure
        log.warning("worker cannot reach the database yet: %s", exc)
    try:
        rehearse(db.url)
    except Exception:  # only speed is at stake
        log.exception("worker could not rehearse a try; tries will start cold")
    gc.collect()
    gc.freeze()


def _refreeze() -> None:
    """A DAG file was imported: freeze its objects too. Unfreeze and collect first, or the
    previous version of the file (cyclic, and frozen) would never be freed."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()


def _serve(conn: Connection, db: RawDb, config: WorkerConfig, state: _State) -> None:
    loader = DagLoader(config.max_cached_dag_files)
    hosts = None
    if uses_try_hosts(config):
        hosts = TryHosts(
            loader,
            tries_per_process=config.tries_per_process,
            memory_limit_bytes=config.memory_limit_mib * MIB,
            kill_grace=config.kill_grace_seconds,
        )
    inbox = Inbox(conn)
    try:
        while not state.stopping:
            if inbox.stop_requested():  # a graceful stop: what was sent ahead is not started
                inbox.hand_back()
                return
            message = inbox.next()
            if message is None or os.getppid() != config.executor_pid:
                return
            state.busy = True
            claimed: Claim | None = None
            while message is not None:
                imports, commits, statements = loader.imports, db.commits, Tx.executed
                errors = db_errors.total()
                follow = Follow(inbox, loader, config.hostname, lambda: state.stopping)
                event = _run(message, conn, db, loader, config, hosts, claimed, follow)
                done = (
                    "done",
                    event,
                    db.commits - commits,
                    Tx.executed - statements,
                    db_errors.total() - errors,
                    hosts.take_retirements() if hosts is not None else {},
                )
                try:
                    conn.send(done)
                except OSError:  # the executor is gone: finish a try claimed with that finish, no more
                    state.stopping = True
                if loader.imports != imports:
                    _refreeze()
                message, claimed = follow.next_try(conn)
                if message is not None and (state.stopping or inbox.stop_requested()):
                    # Stopping: a try claimed with the last finish but not started goes back.
                    _hand_back_unstarted(conn, db, message, claimed)
                    message = None
            # Only now may SIGTERM interrupt us (not in the middle of a send, nor between a try
            # claimed with the previous one's finish and its start).
            state.busy = False
    finally:
        if hosts is not None:
            with contextlib.suppress(Exception):
                hosts.close()
        with contextlib.suppress(Exception):
            db.close()


def _hand_back_unstarted(conn: Connection, db: RawDb, workload: Workload, claimed: Claim | None) -> None:
    """The worker is stopping with ``workload`` in hand, not started (claimed with the last
    finish when ``claimed``): give the claim back (``running -> queued``) and the workload to the
    executor, which runs it on another worker (or, itself ending, leaves it queued for the next
    scheduler). If the claim cannot be given back the executor is not told: the worker's exit
    then fails the try as the executor fails any try of a worker that ended."""
    if claimed is not None:
        try:
            given_back = unclaim_try(db, workload, pid=os.getpid())
        except Exception:
            log.exception("a stopping worker could not give back try %d of %s.%s",
                          workload.try_number, workload.dag_id, workload.task_id)  # fmt: skip
            return
        if not given_back:
            return
    log.info(
        "the worker is stopping: try %d of %s.%s (run %s) goes back unstarted",
        workload.try_number, workload.dag_id, workload.task_id, workload.run_id,
    )  # fmt: skip
    with contextlib.suppress(OSError):
        conn.send(("returned", workload))


def _run(
    workload: Workload,
    conn: Connection,
    db: RawDb,
    loader: DagLoader,
    config: WorkerConfig,
    hosts: TryHosts | None = None,
    claimed: Claim | None = None,
    follow: Follow | None = None,
) -> TaskEvent:
    def on_running(event: TaskEvent) -> None:
        with contextlib.suppress(OSError):  # the executor is gone: finish the try anyway
            conn.send(("running", event, _retry_delay_seconds(loader, workload)))

    try:
        return run_workload(
            workload,
            db=db,
            loader=loader,
            log_folder=config.log_folder,
            hostname=config.hostname,
            heartbeat_seconds=config.heartbeat_seconds,
            timeout_grace_seconds=config.timeout_grace_seconds,
            kill_grace_seconds=config.kill_grace_seconds,
            on_running=on_running,
            max_log_bytes=config.max_log_bytes,
            memory_limit_mib=config.memory_limit_mib,
            outcome_records=_records(config),
            callback_timeout_seconds=config.callback_timeout_seconds,
            claim_give_up_seconds=config.max_outage_seconds,
            hosts=hosts,
            claimed=claimed,
            follow=follow,
            while_running=None if follow is None else follow.hand_back,
        )
    except Exception as exc:  # the database failed us; the try stays 'running' for the zombie sweep
        log.exception(
            "worker could not run %s.%s try %d", workload.dag_id, workload.task_id, workload.try_number
        )
        error = f"the worker could not run or record the try: {type(exc).__name__}: {exc}"
        return make_event(workload, None, time.time(), error=error)


def _retry_delay_seconds(loader: DagLoader, workload: Workload) -> float | None:
    if failure_state(workload.try_number, workload.max_tries) is not TaskInstanceState.UP_FOR_RETRY:
        return None
    try:
        task = loader.get_dag(workload.fileloc, workload.dag_id).get_task(workload.task_id)
    except Exception:
        return DEFAULT_RETRY_DELAY.total_seconds()
    return retry_delay(task, workload.try_number).total_seconds()
