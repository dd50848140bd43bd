"""Where the scheduler's metrics CPU goes, part by part, in this process (no scheduler, no database):
a pass (``MetricsObserver.loop_finished``), a try's four per-task series bound and emitted for a new
task id (garbage collector on and off) and once bound, and one Prometheus scrape of those series:
through ``prometheus_client``'s generic path (``generate_latest``, what ``/metrics`` used before), and
what ``/metrics`` does now (``PrometheusSink.exposition``) the first time it sees the series and again
with nothing changed, plus gzip (Prometheus asks for it).
Then the whole of what the scheduler asks of its metrics in a B2 run: the observer calls of one real
B2 run (fan-out ``--fanout``, SQLite, metrics off) are recorded, then replayed ``--replays`` times into
fresh metrics, in CPU µs per task instance (median and lowest; garbage collector on and off) and the
objects the collector tracks that stay behind per task instance (each one walked by every full
collection of the scheduler's heap, which is much larger than this process's: the replay shows the
collector's cost low).
StatsD (to a local socket that never reads) and Prometheus both on, as in ``b_metrics_overhead.py``.

First, the cost of counting SQL statements (:class:`~windvane.metrics.queries.QueryCounter`) per
statement, on in-memory SQLite.

    python bench/b_metrics_parts.py [--tasks 1000] [--passes 20000] [--fanout 1000] [--replays 5]
                                    [--statements 20000]
"""

from __future__ import annotations

import argparse
import gc
import gzip
import socket
import time
from collections.abc import Callable
from typing import Any

from _common import median, table
from prometheus_client import generate_latest

from windvane.core.scheduler.observer import LoopStats, PoolUsage, SchedulerObserver
from windvane.metrics.metrics_http import GZIP_LEVEL
from windvane.metrics.subscriber import MetricsObserver
from windvane.metrics.wiring import MetricsBundle, build_metrics
from windvane.settings import MetricsSettings


def bundle(port: int) -> MetricsBundle:
    settings = MetricsSettings(statsd_on=True, statsd_host="127.0.0.1", statsd_port=port, prometheus_on=True)
    return build_metrics(settings, executor_name="local", service="scheduler")


def one_try(observer: MetricsObserver, task_id: str) -> None:
    series = observer.series.task("b2", task_id)
    series.start().incr()
    series.duration().observe(0.1)
    series.finish("success").incr()
    series.successes().incr()


def cpu_us(count: int, work: Callable[[int], None]) -> float:
    start = time.process_time()
    for i in range(count):
        work(i)
    return (time.process_time() - start) / count * 1e6


def measure(port: int, tasks: int, passes: int, *, collect: bool) -> list[object]:
    metrics = bundle(port)
    observer = metrics.metrics_observer
    assert observer is not None and metrics.prometheus is not None
    if not collect:
        gc.disable()
    try:
        bind = cpu_us(tasks, lambda i: one_try(observer, f"t{i}"))
        bound = cpu_us(tasks, lambda i: one_try(observer, f"t{i}"))
    finally:
        gc.enable()
    stats = LoopStats(duration=0.01, pools={"default_pool": PoolUsage(128, 1, 1, 0)})

    def one_pass(i: int) -> None:
        stats.executor_open_slots = i % 3
        observer.loop_finished(stats)

    per_pass = cpu_us(passes, one_pass)
    prometheus = metrics.prometheus
    generic = cpu_us(3, lambda _: generate_latest(prometheus.registry)) / 1000
    first = cpu_us(1, lambda _: prometheus.exposition()) / 1000
    again = cpu_us(3, lambda _: prometheus.exposition()) / 1000
    body = prometheus.exposition()
    zipped = cpu_us(3, lambda _: gzip.compress(body, compresslevel=GZIP_LEVEL)) / 1000
    metrics.close()
    return [
        "on" if collect else "off",
        tasks,
        per_pass,
        bind,
        bound,
        generic,
        first,
        again,
        zipped,
        len(body) / 1e6,
    ]


#: The observer hooks the scheduler calls (those :class:`MetricsObserver` overrides get recorded).
HOOKS = [
    name
    for name in vars(SchedulerObserver)
    if not name.startswith("_")
    and callable(getattr(SchedulerObserver, name))
    and name not in ("listens_to", "scheduler_stopped")
    and getattr(MetricsObserver, name) is not getattr(SchedulerObserver, name)
]


def record_b2(fanout: int) -> list[tuple[str, Any]]:
    """The calls a metrics observer gets during one B2 run on SQLite (hook name, argument)."""
    import tempfile
    from pathlib import Path

    import b12_local

    calls: list[tuple[str, Any]] = []

    def hook(name: str) -> Callable[[Any, Any], None]:
        return lambda _self, arg: calls.append((name, arg))

    namespace: dict[str, Any] = {name: hook(name) for name in HOOKS}
    namespace.update(wants_pool_usage=True, pool_usage_every=MetricsObserver.pool_usage_every)
    recorder = type("Recorder", (SchedulerObserver,), namespace)()
    original = b12_local.Scheduler
    b12_local.Scheduler = lambda **kwargs: original(**kwargs, observer=recorder)  # type: ignore[assignment,misc]
    try:
        with tempfile.TemporaryDirectory() as tmp:
            source = b12_local.FANOUT.format(n=fanout)
            result = b12_local.run_one("sqlite", source, "b2_fanout", Path(tmp), tries_per_process=100)
            assert result["state_ok"] == 1.0, "B2 run did not succeed"
    finally:
        b12_local.Scheduler = original  # type: ignore[misc]
    return calls


def replay(port: int, calls: list[tuple[str, Any]], replays: int, *, collect: bool) -> list[object]:
    """``calls`` replayed into fresh metrics ``replays`` times: CPU µs per TI, objects kept per TI."""
    tis = sum(1 for name, _ in calls if name == "try_finished")
    cpu: list[float] = []
    kept: float | None = None
    for _ in range(replays):
        metrics = bundle(port)
        observer = metrics.metrics_observer
        assert observer is not None
        bound = [(getattr(observer, name), arg) for name, arg in calls]
        gc.collect()
        before = len(gc.get_objects())
        if not collect:
            gc.disable()
        try:
            start = time.process_time()
            for method, arg in bound:
                method(arg)
            cpu.append((time.process_time() - start) / tis * 1e6)
        finally:
            gc.enable()
        if kept is None:  # the first replay: later ones also see the earlier ones' objects go
            gc.collect()
            kept = (len(gc.get_objects()) - before) / tis
        metrics.close()
    passes = sum(1 for name, _ in calls if name == "loop_finished")
    return ["on" if collect else "off", tis, passes, median(cpu), min(cpu), kept]


def statement_cpu(statements: int) -> list[object]:
    """CPU µs of one ``SELECT 1`` on in-memory SQLite without and with the :class:`QueryCounter`
    (lowest of three rounds each, alternated)."""
    from sqlalchemy import create_engine, event, text

    from windvane.metrics.queries import QueryCounter

    def run(counted: bool) -> float:
        engine = create_engine("sqlite://")
        event.listen(engine, "checkout", lambda *_: None)  # the scheduler's engine has listeners anyway
        counter = QueryCounter(engine) if counted else None
        with engine.connect() as conn:
            select = text("SELECT 1")
            for _ in range(200):
                conn.execute(select)
            spent = cpu_us(statements, lambda _: conn.execute(select))
        if counter is not None:
            assert counter.take()[0] >= statements
            counter.detach()
        engine.dispose()
        return spent

    rounds = [(run(False), run(True)) for _ in range(3)]
    off, on = min(r[0] for r in rounds), min(r[1] for r in rounds)
    return [statements, off, on, on - off]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--passes", type=int, default=20000)
    parser.add_argument("--fanout", type=int, default=1000, help="B2's width for the replay (0: no replay)")
    parser.add_argument("--replays", type=int, default=5)
    parser.add_argument("--statements", type=int, default=20000, help="for the statement counter's cost")
    args = parser.parse_args()
    print(
        table(
            "The SQL statement counter (windvane_scheduler_loop_db_*): CPU µs per statement",
            ["statements", "no counter", "counter", "counter's cost"],
            [statement_cpu(args.statements)],
        )
    )
    print()
    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server.bind(("127.0.0.1", 0))
    port = server.getsockname()[1]
    rows = [measure(port, args.tasks, args.passes, collect=collect) for collect in (True, False)]
    server.close()
    print(
        table(
            "Metrics CPU by part (StatsD + Prometheus on; µs of CPU unless said)",
            [
                "gc",
                "task ids",
                "a pass",
                "a new try's series",
                "a bound try",
                "generic scrape ms",
                "/metrics first ms",
                "/metrics again ms",
                "gzip ms",
                "MB",
            ],
            rows,
        )
    )
    if args.fanout:
        calls = record_b2(args.fanout)
        server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        server.bind(("127.0.0.1", 0))
        port = server.getsockname()[1]
        rows = [replay(port, calls, args.replays, collect=collect) for collect in (True, False)]
        server.close()
        print()
        print(
            table(
                "A B2 run's metrics observer calls replayed (StatsD + Prometheus on)",
                ["gc", "TIs", "passes", "CPU µs/TI median", "CPU µs/TI lowest", "tracked objects kept/TI"],
                rows,
            )
        )


if __name__ == "__main__":
    main()
