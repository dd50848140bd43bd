"""The processor's side of the parse template (:mod:`.template`): :class:`ParseTemplate`.

:meth:`ParseTemplate.parse` sends the template the files of a pass and yields their
:class:`~.pool.FileResult`\\ s as they come; the processor itself forks nothing. A thread drains
the result pipe into a queue, so the template never waits on a processor busy writing a batch
(it goes on supervising and forking meanwhile).

The template is started on first use and again whenever it is found dead. If it dies during a
pass (killed, or killed by a file's code through its parent pid), the files it had not reported
are sent to a new template, and what it left running is ended and reaped (the processor is a
subreaper: its parse children, SIGKILLed with it, and their descendants come to it; see
:meth:`ParseTemplate._end_orphans`); those that were being parsed when it died are suspects, each then
parsed alone, so a file that kills the template again is known: it gets an import error naming
it, and the files that happened to run beside it are not blamed (after
:data:`MAX_DEATHS_PER_PASS` deaths the files left all fail). A template that does not answer for
``timeout`` + :data:`WATCHDOG_SLACK_SECONDS` (it enforces each file's deadline itself) is killed
the same way.
Closing the generator early (a failed write) stops the template with SIGTERM: it kills the
children still running, and a new template is started for the next pass.

:func:`acquire` / :func:`release` share idle templates between processors of one process that
need the same :class:`~.template_wire.TemplateSetup` (tests make many processors); all are
stopped at exit.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import pickle
import queue
import signal
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Generator, Sequence
from typing import Any

from windvane.core.forking.subreaper import end_sessions
from windvane.core.processor.pool import FileResult, RawResult, decode
from windvane.core.processor.template_wire import ParseRequest, TemplateSetup, receive, send
from windvane.errors import DagImportError, WindvaneError

log = logging.getLogger(__name__)

#: Longest wait for a new template to say it is ready (it imports and warms up).
START_TIMEOUT_SECONDS = 60.0
#: How much longer than a file's deadline the template may stay silent before it is killed.
WATCHDOG_SLACK_SECONDS = 30.0
#: Template deaths in one pass after which the files left fail instead.
MAX_DEATHS_PER_PASS = 10
#: Idle templates kept at most (the least recently used beyond it is stopped).
MAX_IDLE = 2
#: Grace between SIGTERM and SIGKILL when a template is stopped.
STOP_GRACE_SECONDS = 5.0
#: Grace between SIGTERM and SIGKILL for what a dead template's children left running.
ORPHAN_GRACE_SECONDS = 1.0
_BOOT = (
    "import sys; sys.path[:0] = [sys.argv[1]]; "
    "from windvane.core.processor.template import main; sys.exit(main(sys.argv[2:]))"
)


class TemplateError(WindvaneError):
    """The parse template could not be started (the message says why)."""


class _Died(Exception):
    """The template died or stopped answering during a pass."""


class ParseTemplate:
    """One template process (started by :meth:`start`, or by :meth:`parse` when needed)."""

    def __init__(self, setup: TemplateSetup) -> None:
        self.setup = setup
        self.pid: int | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._requests = -1
        self._messages: queue.SimpleQueue[Any] = queue.SimpleQueue()
        #: How many templates were started for this handle (1 unless one died).
        self.starts = 0
        #: Templates of this handle that died (killed, crashed, silent) since :meth:`take_deaths`.
        self.deaths = 0
        #: Processes a dead template left (its parse children and theirs) this handle ended.
        self.orphans_ended = 0

    @property
    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        """Start the template and wait until it is set up; TemplateError if it cannot be."""
        self.stop()
        request_r, request_w = os.pipe()
        result_r, result_w = os.pipe()
        package_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
        stderr = None
        try:
            if self.setup.log_path:
                stderr = open(self.setup.log_path, "ab")  # noqa: SIM115 (closed below)
            self._process = subprocess.Popen(
                [sys.executable, "-c", _BOOT, package_root, str(request_r), str(result_w)],
                pass_fds=(request_r, result_w),
                stdin=subprocess.DEVNULL,
                stdout=stderr if stderr is not None else subprocess.DEVNULL,
                stderr=stderr if stderr is not None else subprocess.DEVNULL,
                cwd=self.setup.cwd,
            )
        except OSError as exc:
            for fd in (request_r, request_w, result_r, result_w):
                os.close(fd)
            raise TemplateError(f"cannot start the parse template: {exc}") from exc
        finally:
            if stderr is not None:
                stderr.close()
        os.close(request_r)
        os.close(result_w)
        self._requests = request_w
        self._messages = queue.SimpleQueue()
        threading.Thread(
            target=_drain, args=(result_r, self._messages), name="parse-template-results", daemon=True
        ).start()
        self.starts += 1
        try:
            send(request_w, self.setup)
            message = self._messages.get(timeout=START_TIMEOUT_SECONDS)
        except (OSError, queue.Empty):
            message = None
        if not (isinstance(message, tuple) and message[0] == "ready"):
            detail = message[1] if isinstance(message, tuple) and message[0] == "failed" else "no answer"
            self.stop()
            raise TemplateError(f"the parse template did not start: {detail}")
        self.pid = int(message[1])

    def stop(self) -> None:
        """Stop the template (SIGTERM: it kills its running children; SIGKILL after a grace)."""
        if self._requests >= 0:
            with contextlib.suppress(OSError):
                os.close(self._requests)
            self._requests = -1
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
            try:
                process.wait(STOP_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def _death(self) -> str:
        process = self._process
        code = None
        if process is not None:
            try:  # its result pipe closes while it exits: the status follows at once
                code = process.wait(STOP_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                code = None
        if code is None:
            return "stopped answering and was killed"
        if code < 0:
            return f"was killed by {signal.Signals(-code).name}"
        return f"exited with code {code}"

    def take_deaths(self) -> int:
        """Deaths since the last call (each one's successor is a template restart)."""
        taken, self.deaths = self.deaths, 0
        return taken

    def _end_orphans(self, running: dict[str, int], spares: set[int]) -> None:
        """The template died: its parse children got SIGKILL (``PR_SET_PDEATHSIG``) and, with what
        they had started, were reparented to this process if it is a subreaper (the DAG processor
        is: ``adopt_orphans``). End them and reap them, or they stay as zombies (and live orphans)
        for as long as this process runs. Each parse child leads a session of its own: its pid. The
        spares (children forked ahead, :mod:`.spare`) are ended alike."""
        try:
            found = end_sessions({*running.values(), *spares}, ORPHAN_GRACE_SECONDS)
        except Exception:  # only tidiness is at stake
            log.exception("could not end what the dead parse template left")
            return
        if found:
            self.orphans_ended += found
            log.warning(
                "ended %d process(es) the dead parse template left running (parsing %s)",
                found,
                ", ".join(sorted(running)),
            )

    def parse(
        self,
        paths: Sequence[str],
        *,
        parallelism: int,
        timeout: float,
        log_path: str | None = None,
        memory_limit_mib: int = 0,
    ) -> Generator[FileResult, None, None]:
        """Parse ``paths`` in the template's children; yield each result as it ends (see the
        module doc for what happens when the template dies)."""
        left = list(paths)
        at_death: Counter[str] = Counter()
        deaths = 0
        while left:
            if not self.alive:
                self.start()
            suspects = [p for p in left if at_death[p]]
            request = (
                ParseRequest((suspects[0],), 1, timeout, log_path, memory_limit_mib)
                if suspects
                else ParseRequest(tuple(left), parallelism, timeout, log_path, memory_limit_mib)
            )
            running: dict[str, int] = {}
            spares: set[int] = set()  # children forked ahead, a file not yet theirs
            reported: set[str] = set()
            try:
                try:
                    send(self._requests, request)
                except OSError as exc:
                    raise _Died from exc
                while True:
                    try:
                        message = self._messages.get(timeout=timeout + WATCHDOG_SLACK_SECONDS)
                    except queue.Empty:
                        raise _Died from None
                    if message is None:
                        raise _Died
                    if message[0] == "started":
                        running[message[1]] = message[2]
                    elif message[0] == "spare":
                        spares.add(message[1])
                    elif message[0] == "result":
                        result = decode(RawResult(*message[1:]), memory_limit_mib)
                        running.pop(result.path, None)
                        reported.add(result.path)
                        yield result
                    elif message[0] == "done":
                        left = [p for p in left if p not in reported]
                        break
            except _Died:
                how = self._death()
                self.stop()
                deaths += 1
                self.deaths += 1
                log.warning(
                    "the parse template %s during a pass; %d file(s) running: %s",
                    how, len(running), ", ".join(sorted(running)) or "none",
                )  # fmt: skip
                self._end_orphans(running, spares)
                at_death.update(list(running))
                left = [p for p in left if p not in reported]
                for path in [p for p in left if at_death[p] >= 2 or deaths >= MAX_DEATHS_PER_PASS]:
                    left.remove(path)
                    failure = f"the parse template process {how} while this file was being parsed"
                    yield FileResult(path, 0.0, None, str(DagImportError(path, failure)))
            except BaseException:  # the caller closed us (a failed write) or is stopping
                self.stop()
                raise


def _drain(fd: int, messages: queue.SimpleQueue[Any]) -> None:
    """Move the template's messages into ``messages`` until end of file (then None)."""
    try:
        with os.fdopen(fd, "rb") as stream:
            while True:
                message = receive(stream)
                messages.put(message)
                if message is None:
                    return
    except Exception:  # a torn message: the template died mid-write
        messages.put(None)


_idle: dict[bytes, list[ParseTemplate]] = {}
_lock = threading.Lock()


def acquire(setup: TemplateSetup) -> ParseTemplate:
    """An idle template of ``setup`` (a new, not yet started one if none is idle)."""
    key = pickle.dumps(setup)
    with _lock:
        pool = _idle.get(key)
        if pool:
            return pool.pop()
    return ParseTemplate(setup)


def release(template: ParseTemplate) -> None:
    """Keep ``template`` for the next :func:`acquire` of its setup (stopped at exit); beyond
    :data:`MAX_IDLE` idle templates, the least recently released is stopped."""
    if not template.alive:
        return
    with _lock:
        key = pickle.dumps(template.setup)
        _idle[key] = [*_idle.pop(key, []), template]  # most recent last, in dict order too
        surplus: list[ParseTemplate] = []
        while sum(len(pool) for pool in _idle.values()) > MAX_IDLE:
            oldest = next(iter(_idle))
            surplus.append(_idle[oldest].pop(0))
            if not _idle[oldest]:
                del _idle[oldest]
    for extra in surplus:
        extra.stop()


def idle_templates() -> list[ParseTemplate]:
    """The templates waiting for a processor (for tests and diagnostics)."""
    with _lock:
        return [t for pool in _idle.values() for t in pool]


@atexit.register
def stop_all() -> None:
    """Stop every idle template."""
    with _lock:
        templates = [t for pool in _idle.values() for t in pool]
        _idle.clear()
    for template in templates:
        template.stop()
