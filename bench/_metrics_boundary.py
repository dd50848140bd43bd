"""What metrics cost the scheduler, measured at its metrics boundary without the noise of a whole run.

The boundary: each :class:`~windvane.core.scheduler.announce.Announcer` call (from which the lifecycle
events are built, but only for hooks some observer listens to) and each call on the observer itself
(``loop_finished`` with its ``LoopStats`` and pool snapshot, ``try_hosts_retired``...).

:func:`timed` measures it in situ: while inside, b12_local's scheduler runs with every boundary call
timed in thread CPU (metrics on or off alike; the difference is what metrics cost there, with the
caches and the load of a real run).

:func:`record` runs B2 once (metrics off) and keeps every call the scheduler made at its metrics
boundary: each :class:`~windvane.core.scheduler.announce.Announcer` call (from which the lifecycle
events are built, but only for hooks some observer listens to) and each call on the observer
itself.

:func:`replay` plays those calls back, alternating, into the scheduler's two set-ups: metrics off
(a plain ``SchedulerObserver``: the announcer builds nothing, the hooks do nothing) and metrics on
(``build_metrics(...).observer`` with StatsD and Prometheus: events built, both backends fed, a
fresh bundle each time so every series is new, as in a B2 run). The difference in process CPU per
task instance is the metrics work of that run; many replays give its median and spread, where a
whole B2 run spreads +-15 %.

Not in the replay (each measured apart by :mod:`b_metrics_overhead`): the SQL statement counter
(per statement), the ``/metrics`` scrape (per scrape) and the pool snapshot (about once a second).
The replay's arguments are the scheduler's own objects, kept by reference: a task instance's record
holds its last state, which changes values, not the work done with them.
"""

from __future__ import annotations

import gc
import socket
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import b12_local

from windvane.core.model.clock import SystemClock
from windvane.core.scheduler import loop as scheduler_loop
from windvane.core.scheduler.announce import Announcer
from windvane.core.scheduler.observer import SchedulerObserver
from windvane.metrics.wiring import build_metrics
from windvane.settings import MetricsSettings

#: (target: "announce" or "observer", method name, positional args, keyword args)
Call = tuple[str, str, tuple[Any, ...], dict[str, Any]]

ANNOUNCER_HOOKS = [name for name in vars(Announcer) if not name.startswith("_")]
OBSERVER_HOOKS = [
    "loop_finished",
    "database_error",
    "worker_database_errors",
    "try_hosts_retired",
    "dag_quarantined",
]


def settings(port: int) -> MetricsSettings:
    """Both backends on, as deployed (DogStatsD tags to ``port``; Prometheus not served here)."""
    return MetricsSettings(
        statsd_on=True,
        statsd_host="127.0.0.1",
        statsd_port=port,
        statsd_datadog_tags=True,
        prometheus_on=True,
        prometheus_port=1,
    )


def record(kind: str, fanout: int) -> tuple[list[Call], int]:
    """The calls at the metrics boundary of one B2 run on ``kind`` (metrics off), and its TI count."""
    calls: list[Call] = []

    def through(target: str, name: str, base: Callable[..., Any]) -> Callable[..., Any]:
        def hook(self: Any, *args: Any, **kwargs: Any) -> Any:
            calls.append((target, name, args, kwargs))
            return base(self, *args, **kwargs)

        return hook

    recording_announcer = type(
        "RecordingAnnouncer",
        (Announcer,),
        {name: through("announce", name, getattr(Announcer, name)) for name in ANNOUNCER_HOOKS},
    )
    observer_type = type(
        "RecordingObserver",
        (SchedulerObserver,),
        {
            **{name: through("observer", name, getattr(SchedulerObserver, name)) for name in OBSERVER_HOOKS},
            # As with metrics on: the loop takes a pool snapshot for the observer now and then.
            "wants_pool_usage": True,
            "pool_usage_every": 1.0,
            # The recorder listens to nothing itself: the run is the metrics-off run.
            "listens_to": lambda self, hook: False,
        },
    )
    original_scheduler, original_announcer = b12_local.Scheduler, scheduler_loop.Announcer
    b12_local.Scheduler = lambda **kw: original_scheduler(**kw, observer=observer_type())  # type: ignore[assignment,misc]
    scheduler_loop.Announcer = recording_announcer  # type: ignore[misc]
    try:
        with tempfile.TemporaryDirectory() as tmp:
            source = b12_local.FANOUT.format(n=fanout)
            result = b12_local.run_one(kind, source, "b2_fanout", Path(tmp), tries_per_process=100)
            assert result["state_ok"] == 1.0, "B2 run did not succeed"
    finally:
        b12_local.Scheduler = original_scheduler  # type: ignore[misc]
        scheduler_loop.Announcer = original_announcer  # type: ignore[misc]
    return calls, int(result["n"])


class _Statements:
    """Stands in for the QueryCounter of a pass (two statements, 1 ms)."""

    def take(self) -> tuple[int, float]:
        return 2, 0.001


class _TimedObserver(SchedulerObserver):
    """Passes every hook on to ``inner``, timing those the loop calls directly (the announcer's are
    timed around the announcer call, with the building of their events)."""

    def __init__(self, inner: SchedulerObserver, spent: list[float]) -> None:
        self.inner, self.spent = inner, spent
        self.wants_pool_usage = inner.wants_pool_usage
        self.pool_usage_every = inner.pool_usage_every
        # getattr: the bench also runs against sources from before the lean hooks.
        self.lean_hooks = getattr(inner, "lean_hooks", frozenset())

    def listens_to(self, hook: str) -> bool:
        return self.inner.listens_to(hook)

    def _timed(self, name: str, arg: Any) -> None:
        start = time.thread_time()
        getattr(self.inner, name)(arg)
        self.spent[0] += time.thread_time() - start

    def loop_finished(self, stats: Any) -> None:
        self._timed("loop_finished", stats)

    def database_error(self, process: str) -> None:
        self._timed("database_error", process)

    def worker_database_errors(self, count: int) -> None:
        self._timed("worker_database_errors", count)

    def try_hosts_retired(self, counts: Mapping[str, int]) -> None:
        self._timed("try_hosts_retired", counts)

    def dag_quarantined(self, event: Any) -> None:
        self._timed("dag_quarantined", event)

    def scheduler_stopped(self) -> None:
        start = time.thread_time()
        self.inner.scheduler_stopped()
        self.spent[0] += time.thread_time() - start


def _forward(name: str) -> Callable[[Any, Any], None]:
    return lambda self, event: getattr(self.inner, name)(event)


for _hook in (
    "run_created",
    "run_finished",
    "try_scheduled",
    "try_queued",
    "try_started",
    "try_finished",
    "try_rescheduled",
    "try_lost",
    "try_zombie",
):
    setattr(_TimedObserver, _hook, _forward(_hook))


def _forward_lean(name: str) -> Callable[..., None]:
    return lambda self, *args: getattr(self.inner, name)(*args)


for _hook in ("try_scheduled_lean", "try_queued_lean", "try_started_lean", "try_finished_lean"):
    setattr(_TimedObserver, _hook, _forward_lean(_hook))


@contextmanager
def timed() -> Iterator[list[float]]:
    """While inside, b12_local's schedulers have their metrics boundary timed: thread CPU seconds
    spent in it, summed in the list's one item. Enter it before ``metrics_on`` (it wraps the
    observer that one hands the scheduler, or the default one)."""
    spent = [0.0]

    def through(base: Callable[..., Any]) -> Callable[..., Any]:
        def hook(self: Any, *args: Any, **kwargs: Any) -> Any:
            start = time.thread_time()
            try:
                return base(self, *args, **kwargs)
            finally:
                spent[0] += time.thread_time() - start

        return hook

    timing_announcer = type(
        "TimingAnnouncer", (Announcer,), {name: through(getattr(Announcer, name)) for name in ANNOUNCER_HOOKS}
    )
    original_scheduler, original_announcer = b12_local.Scheduler, scheduler_loop.Announcer

    def scheduler(**kw: Any) -> Any:
        inner = kw.pop("observer", None) or SchedulerObserver()
        return original_scheduler(**kw, observer=_TimedObserver(inner, spent))

    b12_local.Scheduler = scheduler  # type: ignore[assignment,misc]
    scheduler_loop.Announcer = timing_announcer  # type: ignore[misc]
    try:
        yield spent
    finally:
        b12_local.Scheduler = original_scheduler  # type: ignore[misc]
        scheduler_loop.Announcer = original_announcer  # type: ignore[misc]


def _play(calls: list[Call], observer: SchedulerObserver) -> float:
    """CPU seconds of the calls played into ``observer`` (through an announcer, as the loop does)."""
    announcer = Announcer(observer, SystemClock())
    targets = {"announce": announcer, "observer": observer}
    bound = [(getattr(targets[target], name), args, kwargs) for target, name, args, kwargs in calls]
    gc.collect()
    gc.freeze()  # as Scheduler.run does: collections walk only what the run adds
    try:
        start = time.process_time()
        for method, args, kwargs in bound:
            method(*args, **kwargs)
        observer.scheduler_stopped()  # as the loop does at its end: what waits is emitted
        return time.process_time() - start
    finally:
        gc.unfreeze()


def replay(calls: list[Call], tis: int, replays: int) -> dict[str, list[float]]:
    """CPU µs per TI of ``calls`` with metrics off and on, ``replays`` times each, alternating."""
    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server.bind(("127.0.0.1", 0))  # a StatsD server that never reads, as in the whole runs
    out: dict[str, list[float]] = {"off": [], "on": [], "diff": []}
    try:
        for i in range(replays):
            spent: dict[str, float] = {}
            for side in ("off", "on") if i % 2 == 0 else ("on", "off"):
                if side == "off":
                    spent[side] = _play(calls, SchedulerObserver())
                    continue
                bundle = build_metrics(
                    settings(server.getsockname()[1]), executor_name="local", service="scheduler"
                )
                assert bundle.metrics_observer is not None
                # The scheduler's per-pass statement histograms, without a database here: the
                # counter's own cost per statement is measured apart.
                bundle.metrics_observer.loop.queries = _Statements()  # type: ignore[assignment]
                try:
                    spent[side] = _play(calls, bundle.observer)
                finally:
                    bundle.close()
            for side, seconds in spent.items():
                out[side].append(seconds / tis * 1e6)
            out["diff"].append((spent["on"] - spent["off"]) / tis * 1e6)
    finally:
        server.close()
    return out


def spread(values: list[float]) -> tuple[float, float, float]:
    """(median, lowest, highest)."""
    return statistics.median(values), min(values), max(values)
