"""Running parse children: at most N at once, each with a deadline.

:func:`parse_files` forks one child per file (:func:`~.parse_child.fork_parser`)
and yields a :class:`FileResult` as each one ends. The children are watched
together by a :class:`~windvane.core.forking.watch.ChildWatcher` (one poll on
their result pipes and exit handles, a timeout no later than the nearest
deadline: no polling, no sleeping). A child past its deadline is killed with
SIGKILL and reported as timed out; a child that dies without reporting
(``os._exit``, a segfault) is reported as crashed. Either way the other files
go on. Closing the generator early kills whatever still runs.

What a child leaves behind (a process forked at import) is ended by sweeping its session; the
sessions of the children that ended are swept together every :data:`SWEEP_EVERY_SECONDS` and when
the generator ends (one look at ``/proc`` each, instead of one per file).

:func:`run_parsers` is the same without decoding: it yields each child's :class:`RawResult` (its
report as bytes), which the parse template forwards as they are; :func:`decode` turns one into
the :class:`FileResult` where it is used (in the processor: the template forks, so every object it
touches after a fork costs it a copy-on-write fault, and a decoded result is many objects).

While the generator runs, the objects the processor held when it started are frozen
(``gc.freeze``; unfrozen when it ends, unless someone else froze them): the processor's own
collections then skip them, so they neither spend CPU on the long-lived heap nor write to the
pages it shares with the running children (each such write is a copy-on-write fault).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import gc
from collections import deque
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass
from typing import NamedTuple

from windvane.core.forking.ending import ChildEnd, Ending
from windvane.core.forking.watch import ChildWatcher
from windvane.core.processor.parse_child import ParseOutcome, fork_parser
from windvane.core.processor.spare import SpareParser, fork_spare
from windvane.errors import DagImportError

#: How long the processes a parse child left behind may outlive it (swept in batches).
SWEEP_EVERY_SECONDS = 0.5


@dataclass(frozen=True, slots=True)
class FileResult:
    """How parsing one file ended.

    ``outcome`` is what the child reported (None if it reported nothing);
    ``failure`` explains a timeout or a crash.
    """

    path: str
    duration: float
    outcome: ParseOutcome | None
    failure: str | None = None
    timed_out: bool = False

    @property
    def error(self) -> str | None:
        """The import error text for the file, if any."""
        if self.failure is not None:
            return self.failure
        return self.outcome.error if self.outcome is not None else None


def _failure(end: ChildEnd, timeout: float) -> str:
    """Why a parse child reported nothing, in the processor's words."""
    if end.how is Ending.TIMED_OUT:
        return (
            f"timed out after {timeout:g} s (dag_processor.file_parse_timeout_seconds); "
            "the parsing process was killed"
        )
    if end.how is Ending.SIGNALED:
        return f"the parsing process was killed by {end.signal_name}"
    if end.how is Ending.INTERNAL_ERROR:
        return "the parsing process failed before it could report (internal error)"
    if end.exit_code is not None:
        return f"the parsing process exited with code {end.exit_code} before reporting"
    if end.how is Ending.KILLED:
        return f"the parsing process was killed: {end.reason}"
    if end.how is Ending.REPORTED:
        return "the parsing process reported an unreadable outcome"
    return "the parsing process vanished"


class RawResult(NamedTuple):
    """How parsing one file ended, before decoding: ``payload`` is the child's report (None if it
    reported nothing), ``failure`` explains a timeout or a crash (already worded as an import
    error naming the file). A plain tuple, so that it crosses a pipe cheaply."""

    path: str
    duration: float
    payload: bytes | None
    failure: str | None
    timed_out: bool


def _raw(path: str, end: ChildEnd, timeout: float, memory_limit_mib: int = 0) -> RawResult:
    if end.payload is not None:
        return RawResult(path, end.duration, end.payload, None, False)
    failure = _failure(end, timeout)
    if memory_limit_mib and end.oom_kills:
        failure = (
            f"parsing exceeded the memory limit of {memory_limit_mib} MiB (the kernel's OOM killer "
            f"ended {end.oom_kills} of its processes in its cgroup); {failure}"
        )
    return RawResult(
        path, end.duration, None, str(DagImportError(path, failure)), end.how is Ending.TIMED_OUT
    )


def decode(raw: RawResult, memory_limit_mib: int = 0) -> FileResult:
    """The :class:`FileResult` of ``raw``: its payload decoded into a :class:`ParseOutcome`; a
    ``MemoryError`` under a memory limit says so; a payload that does not decode is a failure."""
    path, duration, payload, failure, timed_out = raw
    if payload is None:
        return FileResult(path, duration, None, failure, timed_out)
    try:
        outcome = ParseOutcome.decode(payload)
    except (ValueError, KeyError, TypeError):
        failure = str(DagImportError(path, "the parsing process reported an unreadable outcome"))
        return FileResult(path, duration, None, failure)
    if memory_limit_mib and outcome.error and "MemoryError" in outcome.error:
        error = f"{path}: parsing exceeded the memory limit of {memory_limit_mib} MiB\n{outcome.error}"
        outcome = dataclasses.replace(outcome, error=error)
    return FileResult(path, duration, outcome)


def parse_files(
    paths: Iterable[str],
    *,
    parallelism: int,
    timeout: float,
    log_path: str | None = None,
    after_fork: Callable[[], None] | None = None,
    memory_limit_mib: int = 0,
    on_start: Callable[[str, int], None] | None = None,
    on_spare: Callable[[int], None] | None = None,
) -> Generator[FileResult, None, None]:
    """Parse ``paths`` in up to ``parallelism`` children; yield each result as it ends. Each
    child's address space is capped at ``memory_limit_mib`` (0: no cap). ``on_start`` is told
    each path and its child's pid once the child is forked, and ``on_spare`` each spare's pid
    (the template tells the processor: its children's sessions are theirs, see
    :func:`~windvane.core.forking.subreaper.end_sessions`)."""
    raws = run_parsers(
        paths,
        parallelism=parallelism,
        timeout=timeout,
        log_path=log_path,
        after_fork=after_fork,
        memory_limit_mib=memory_limit_mib,
        on_start=on_start,
        on_spare=on_spare,
    )
    with contextlib.closing(raws):  # closing this generator kills the children still running
        for raw in raws:
            yield decode(raw, memory_limit_mib)


def run_parsers(
    paths: Iterable[str],
    *,
    parallelism: int,
    timeout: float,
    log_path: str | None = None,
    after_fork: Callable[[], None] | None = None,
    memory_limit_mib: int = 0,
    on_start: Callable[[str, int], None] | None = None,
    on_spare: Callable[[int], None] | None = None,
    stdio_inherited: bool = False,
    ahead: int | None = None,
    lean_fork: bool = False,
) -> Generator[RawResult, None, None]:
    """:func:`parse_files` without decoding: yield each file's :class:`RawResult` as it ends.
    With ``stdio_inherited`` the children keep this process's stdio (which must already go to
    ``log_path``: the template sets its own up once) instead of opening ``log_path`` each.
    ``ahead`` children (default: ``parallelism``) are forked before they are needed
    (:mod:`.spare`), never more than there are files left to give them. With ``lean_fork`` the
    children are forked without CPython's after-fork hooks
    (:func:`~windvane.core.forking.lean_fork.lean_fork`: for a caller with none it needs, the
    parse template)."""
    if parallelism < 1:
        raise ValueError(f"parallelism must be >= 1, got {parallelism}")
    pending = deque(paths)
    freeze = gc.get_freeze_count() == 0  # a caller's own freeze is left alone
    if freeze:
        gc.freeze()
    watcher = ChildWatcher(sweep_every=SWEEP_EVERY_SECONDS)
    running: dict[int, str] = {}
    spares: deque[SpareParser] = deque()
    ahead = parallelism if ahead is None else ahead
    fork_now = functools.partial(
        fork_parser,
        timeout=timeout,
        log_path=log_path,
        after_fork=after_fork,
        memory_limit_bytes=memory_limit_mib << 20,
        stdio_inherited=stdio_inherited,
        lean=lean_fork,
    )
    fork_ahead = functools.partial(
        fork_spare,
        log_path=log_path,
        after_fork=after_fork,
        memory_limit_bytes=memory_limit_mib << 20,
        stdio_inherited=stdio_inherited,
        lean=lean_fork,
    )

    def start(path: str) -> None:
        while spares:
            spare = spares.popleft()
            if spare.assign(path, timeout):
                child = spare.child
                break
            spare.cancel()
        else:
            child = fork_now(path)
        running[child.pid] = path
        watcher.add(child)
        if on_start is not None:
            on_start(path, child.pid)

    def fill() -> None:
        while pending and len(running) < parallelism:
            start(pending.popleft())
        while len(spares) < min(ahead, len(pending)):  # set up while the others parse
            spares.append(fork_ahead())
            if on_spare is not None:
                on_spare(spares[-1].child.pid)

    try:
        while pending or running:
            fill()
            finished = [_raw(running.pop(c.pid), end, timeout, memory_limit_mib) for c, end in watcher.wait()]
            # Refill the free slots before handing results over: children parse while they are stored.
            fill()
            yield from finished
    finally:
        for spare in spares:
            spare.cancel()
        watcher.close()
        if freeze:
            gc.unfreeze()
