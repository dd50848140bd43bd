"""Where the scheduler's metrics CPU goes, part by part, in this process (no scheduler, no database):
a pass (``MetricsObserver.loop_finished``), a try's four per-task series bound and emitted for a new
task id (garbage collector on and off) and once bound, and one Prometheus scrape of those series:
through ``prometheus_client``'s generic path (``generate_latest``, what ``/metrics`` used before), and
what ``/metrics`` does now (``PrometheusSink.exposition``) the first time it sees the series and again
with nothing changed, plus gzip (Prometheus asks for it).
StatsD (to a local socket that never reads) and Prometheus both on, as in ``b_metrics_overhead.py``.

    python bench/b_metrics_parts.py [--tasks 1000] [--passes 20000]
"""

from __future__ import annotations

import argparse
import gc
import gzip
import socket
import time
from collections.abc import Callable

from _common import table
from prometheus_client import generate_latest

from windvane.core.scheduler.observer import LoopStats, PoolUsage
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


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--passes", type=int, default=20000)
    args = parser.parse_args()
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


if __name__ == "__main__":
    main()
