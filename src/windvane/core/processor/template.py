"""The parse template: a lean process that forks the DAG processor's parse children.

Started once by the processor (:mod:`.template_client`) as a fresh interpreter, it imports only
what parsing needs (the authoring modules, Windvane's operators, the supervised fork; no
SQLAlchemy, no store, none of the processor's state), runs the processor's warm-up DAG, freezes
its heap out of the collector's reach (``gc.freeze``) and then serves :class:`ParseRequest`\\ s:
each file is parsed in a child of its own by :func:`~.pool.run_parsers`, exactly as the processor
used to do it itself (deadline, memory limit, session sweep, subreaper, cgroup cell per child,
import errors naming the file), and each :class:`~.pool.RawResult` goes back as it ends, undecoded.
The children write to the template's own stdout and stderr, which it sends to the request's log
file (or ``/dev/null``) once.

Why: a fork costs in proportion to the memory of the process forked. A child of the processor
(≈ 60 MB with SQLAlchemy, drivers, the store and its caches) cost ≈ 8 ms of CPU to fork, fault
and tear down for ≈ 3 ms of parsing; a child of this ≈ 27 MB template costs much less, and the
processor itself no longer forks at all.

The template is a supervisor only: it runs no user code itself. It installs the processor's
``[core] process_containment`` (adopting orphans, as the processor did), ends when its request
pipe closes or the processor dies (``PR_SET_PDEATHSIG``), and on SIGTERM kills the children still
running before it exits.

Run as ``python -c 'from windvane.core.processor.template import main; ...' REQUEST_FD RESULT_FD``.
"""

from __future__ import annotations

import gc
import os
import signal
import sys
import traceback
from types import FrameType

from windvane.core.authoring.defaults import set_authoring_defaults
from windvane.core.forking.child import redirect_stdio, signal_on_parent_death
from windvane.core.forking.containment import install as install_containment
from windvane.core.model.connection import Connection
from windvane.core.model.secrets_config import SecretsConfig
from windvane.core.processor.pool import run_parsers
from windvane.core.processor.template_wire import ParseRequest, TemplateSetup, receive, send
from windvane.core.processor.warmup import warm_up
from windvane.core.task_api import secrets
from windvane.core.task_api.masking import masker


class LazySecrets:
    """The processor's secrets resolver, built on first use (in the parse child that reads a
    Connection or Variable at a DAG file's top level): the template never imports the store."""

    def __init__(self, config: SecretsConfig) -> None:
        self._config = config
        self._real: secrets.SecretsResolver | None = None

    def _resolver(self) -> secrets.SecretsResolver:
        if self._real is None:
            from windvane.core.worker.secrets_setup import build_resolver

            self._real = build_resolver(self._config)
        return self._real

    def get_connection(self, conn_id: str) -> Connection | None:
        return self._resolver().get_connection(conn_id)

    def get_variable(self, key: str) -> str | None:
        return self._resolver().get_variable(key)


def set_up(setup: TemplateSetup) -> None:
    """Become the processor's template: its path, folder, authoring defaults, containment and
    secrets; then warm up and freeze what every child will share."""
    # Without prctl (not Linux) the closed request pipe still ends the template.
    signal_on_parent_death(signal.SIGTERM)
    if setup.parent_pid and os.getppid() != setup.parent_pid:
        raise SystemExit(0)  # the processor died before we got here
    sys.path[:] = list(setup.sys_path)
    os.chdir(setup.cwd)
    set_authoring_defaults(setup.authoring)
    install_containment(setup.containment, adopt_orphans=True)
    if setup.secrets is not None:
        masker().set_sensitive_names(setup.secrets.sensitive_names)
        secrets.install_resolver(LazySecrets(setup.secrets))
    warm_up()
    gc.collect()
    gc.freeze()


def serve(requests_fd: int, results_fd: int) -> int:
    """Read the setup, then serve parse requests until the request pipe closes."""
    requests = os.fdopen(requests_fd, "rb")
    try:
        setup = receive(requests)
        if not isinstance(setup, TemplateSetup):
            raise TypeError(f"expected a TemplateSetup, got {type(setup).__name__}")
        set_up(setup)
    except BaseException:  # reported to the processor, which then forks children itself
        send(results_fd, ("failed", traceback.format_exc()))
        return 1
    send(results_fd, ("ready", os.getpid()))
    output: str | None = None
    while True:
        request = receive(requests)
        if request is None:
            return 0
        if not isinstance(request, ParseRequest):
            raise TypeError(f"expected a ParseRequest, got {type(request).__name__}")
        # The children's stdio is the template's own, set up once (not opened again in each child).
        target = request.log_path or os.devnull
        if target != output:
            redirect_stdio(target)
            output = target
        results = run_parsers(
            request.paths,
            parallelism=request.parallelism,
            timeout=request.timeout,
            log_path=request.log_path,
            memory_limit_mib=request.memory_limit_mib,
            on_start=lambda path, pid: send(results_fd, ("started", path, pid)),
            on_spare=lambda pid: send(results_fd, ("spare", pid)),
            stdio_inherited=True,
            lean_fork=True,  # see lean_fork's doc: nothing registered here needs its at-fork hooks
        )
        for raw in results:  # SIGTERM closes it: run_parsers kills its children
            # As the child reported it: decoding is the processor's work (every object the
            # template touches between two forks costs it a copy-on-write fault).
            send(results_fd, ("result", *raw))
        send(results_fd, ("done",))


def _stop(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def main(argv: list[str]) -> int:
    """Entry point: ``argv`` holds the request and result pipe descriptors."""
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C reaches the processor, which stops us
    return serve(int(argv[0]), int(argv[1]))
