"""The try host's own side: the loop a forked host runs (:func:`serve`) and what it is sent.

See :mod:`windvane.core.worker.try_host` for what a try host is and the worker's side
(:class:`~windvane.core.worker.try_host.TryHosts`). Each request is a pickled :class:`TryRequest`
in a length-prefixed frame; each result is :data:`KEEP` or :data:`RETIRE` then the outcome, a
retirement's reason (:data:`RETIREMENT_REASONS`, and for ``globals_changed`` the names) between
them, up to a newline.
"""

from __future__ import annotations

import contextlib
import copy
import os
import pickle
import signal
import struct
import sys
import threading
from dataclasses import dataclass
from datetime import timedelta
from typing import NoReturn

from windvane.core.forking.child import RESET_SIGNALS, write_result
from windvane.core.forking.subreaper import become_subreaper, end_descendants
from windvane.core.model.outcome import TryOutcome, failure_state
from windvane.core.model.states import TaskInstanceState
from windvane.core.model.try_host_retirements import RETIREMENT_REASONS as RETIREMENT_REASONS
from windvane.core.model.workload import Workload
from windvane.core.store.try_claim import Claim
from windvane.core.worker.dag_loader import DagLoader
from windvane.core.worker.inputs import jinja_env_for, run_inputs_for
from windvane.core.worker.task_child import ChildJob, child_main

FRAME = struct.Struct("!I")
#: The first byte of each result: the host takes another try, or it retires (then the reason and
#: what it names, ``reason:detail``, up to a newline, come before the outcome).
KEEP, RETIRE = b"K", b"R"
#: What a host sends of a retirement's reason at most (bytes), and the globals it names at most.
_MAX_WHY, _MAX_NAMES = 512, 5


@dataclass(frozen=True, slots=True)
class TryRequest:
    """What the host needs to run one try (small and picklable: the DAG is its own copy)."""

    workload: Workload
    claim: Claim
    log_path: str
    db_url: str
    hostname: str
    callback_timeout: float
    #: How long a try with end callbacks asks the database whether it still holds its task
    #: instance before running them (0: never asks); as :attr:`ChildJob.claim_check_seconds`.
    claim_check_seconds: float = 0.0


def child_job(request: TryRequest, loader: DagLoader) -> ChildJob:
    """The :class:`ChildJob` of ``request`` from the DAGs ``loader`` holds, with a copy of the task."""
    workload, claim = request.workload, request.claim
    dag = loader.get_dag(workload.fileloc, workload.dag_id)
    task = copy.copy(dag.get_task(workload.task_id))
    try:
        run = run_inputs_for(
            workload,
            run_start_date=claim.run_start_date,
            prev_data_interval_start_success=claim.prev_data_interval_start_success,
            prev_data_interval_end_success=claim.prev_data_interval_end_success,
        )
    except Exception:  # the try fails on it, visibly (run_job builds it again and reports)
        run = None
    return ChildJob(
        workload=workload,
        dag=dag,
        task=task,
        log_path=request.log_path,
        db_url=request.db_url,
        hostname=request.hostname,
        prev_data_interval_start_success=claim.prev_data_interval_start_success,
        prev_data_interval_end_success=claim.prev_data_interval_end_success,
        run_start_date=claim.run_start_date,
        jinja_env=jinja_env_for(dag),
        run=run,
        first_poke_at=claim.first_poke_at,
        reschedule_count=claim.reschedule_count,
        callback_timeout=request.callback_timeout,
        claim_check_seconds=request.claim_check_seconds,
    )


def serve(
    loader: DagLoader, request_fd: int, result_fd: int, quota: int, *, sweep_grace: float = 5.0
) -> NoReturn:
    """The host's loop (in the forked host): run each request's try, report its outcome with
    :data:`KEEP` or :data:`RETIRE`; exit at the end of the requests or after retiring, having
    ended every descendant (SIGTERM, ``sweep_grace`` seconds, SIGKILL): what a try left, in a
    session of its own or not, must not outlive the host nor fall to the worker."""
    become_subreaper()
    threads, cwd, environ = threading.active_count(), os.getcwd(), dict(os.environ)
    handlers = {signum: signal.getsignal(signum) for signum in RESET_SIGNALS}
    served = 0
    while True:
        request = _read_request(request_fd)
        if request is None:
            break
        try:
            job = child_job(request, loader)
        except Exception as exc:  # the file changed under the host and no longer loads: fail, retire
            write_result(result_fd, RETIRE + b"unloadable\n" + _unloadable(request, exc))
            break
        module = loader.module_globals(request.workload.fileloc)
        before = None if module is None else dict(module)
        payload = child_main(job)
        served += 1
        for signum, handler in handlers.items():
            signal.signal(signum, handler)
        why = (
            "quota" if served >= quota else _changed_globals(module, before) or _trace(threads, cwd, environ)
        )
        if why is None:
            write_result(result_fd, KEEP + payload)
            continue
        write_result(result_fd, RETIRE + why.encode(errors="replace")[:_MAX_WHY] + b"\n" + payload)
        break
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    with contextlib.suppress(BaseException):  # os._exit skips child_run's own sweep
        end_descendants(sweep_grace)
    os._exit(0)


def _unloadable(request: TryRequest, exc: Exception) -> bytes:
    """The outcome of a try whose task the host cannot load (retried after BaseOperator's default
    delay, as a worker's unloadable try)."""
    workload = request.workload
    error = f"cannot load task {workload.task_id!r} of DAG {workload.dag_id!r}: {exc}"
    with contextlib.suppress(OSError):
        fd = os.open(request.log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        os.write(fd, f"*** {error}\n".encode())
        os.close(fd)
    state = failure_state(workload.try_number, workload.max_tries)
    delay = timedelta(seconds=300) if state is TaskInstanceState.UP_FOR_RETRY else None
    return TryOutcome(state=state, error=error, next_retry_delay=delay).to_json().encode()


def _changed_globals(module: dict[str, object] | None, before: dict[str, object] | None) -> str | None:
    """``globals_changed:<names>`` when the try left the DAG file's module globals bound otherwise
    than it found them (a ``global`` statement's assignment, a name added or deleted); None when
    not. A mutated object is not seen (that is how a cache keeps its host)."""
    if module is None or before is None:
        return None
    missing = object()
    changed = {name for name, value in before.items() if module.get(name, missing) is not value}
    changed |= module.keys() - before.keys()
    if not changed:
        return None
    return "globals_changed:" + ",".join(sorted(changed)[:_MAX_NAMES])


def _trace(threads: int, cwd: str, environ: dict[str, str]) -> str | None:
    """What the try left that could change the next one (see the module doc), or None."""
    if threading.active_count() > threads:
        return "thread_left"
    if os.environ != environ:
        return "environ_changed"
    try:
        if os.getcwd() != cwd:
            return "cwd_changed"
    except OSError:
        return "cwd_changed"
    while True:  # reap what ended; a live child (or orphaned descendant) means retire
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return None
        if pid == 0:
            return "process_left"


def _read_request(fd: int) -> TryRequest | None:
    header = _read_exactly(fd, FRAME.size)
    if header is None:
        return None
    (size,) = FRAME.unpack(header)
    data = _read_exactly(fd, size)
    if data is None:
        return None
    request: TryRequest = pickle.loads(data)
    return request


def _read_exactly(fd: int, size: int) -> bytes | None:
    data = bytearray()
    while len(data) < size:
        chunk = os.read(fd, size - len(data))
        if not chunk:
            return None
        data += chunk
    return bytes(data)
