"""Metrics overhead on B2 (fan-out 1 -> 1000 -> 1, LocalExecutor parallelism 2; see b12_local.run_one):
metrics off vs StatsD (DogStatsD tags, to a local UDP socket) and Prometheus (``/metrics`` served and
scraped every ``--scrape`` seconds, 15 by default like a usual Prometheus) both on.

Runs alternate off/on, on/off... ``--repeat`` times. The table shows each run's makespan, TI/s, the
CPU seconds of the scheduler process (where metrics are recorded) and the CPU milliseconds per task
instance of the scheduler and its children (LocalExecutor workers and task processes, reaped by the
end of the run; the database server's are not counted), then the medians. The verdict is on CPU per
task instance (target: metrics on costs <= 3 % more); makespans move with any other load on a shared
machine, CPU barely does.

    python bench/b_metrics_overhead.py [--db sqlite,postgres] [--fanout 1000] [--repeat 4]
"""

from __future__ import annotations

import argparse
import resource
import socket
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import b12_local
from _common import median, table

from windvane.metrics.wiring import MetricsBundle, build_metrics
from windvane.settings import MetricsSettings


@contextmanager
def metrics_on(scrape_seconds: float) -> Iterator[list[MetricsBundle]]:
    """Make b12_local's scheduler report to both backends (and scrape it) while inside."""
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", 0))  # a StatsD server that never reads: sends cost what they cost
    settings = MetricsSettings(
        statsd_on=True,
        statsd_host="127.0.0.1",
        statsd_port=sink.getsockname()[1],
        statsd_datadog_tags=True,
        prometheus_on=True,
        prometheus_port=1,
    )
    bundles: list[MetricsBundle] = []
    stop = threading.Event()
    original = b12_local.Scheduler

    def scheduler(**kwargs: Any) -> Any:
        bundle = build_metrics(settings, executor_name="local", service="scheduler", engine=kwargs["engine"])
        assert bundle.prometheus is not None
        port = bundle.prometheus.serve("127.0.0.1", 0)
        bundles.append(bundle)

        def scrape() -> None:
            while not stop.wait(scrape_seconds):
                urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30).read()

        threading.Thread(target=scrape, daemon=True).start()
        return original(**kwargs, observer=bundle.observer)

    b12_local.Scheduler = scheduler  # type: ignore[assignment,misc]
    try:
        yield bundles
    finally:
        b12_local.Scheduler = original  # type: ignore[misc]
        stop.set()
        for bundle in bundles:
            bundle.close()
        sink.close()


def children_cpu() -> float:
    """CPU seconds of this process's children (and theirs) reaped so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measured(kind: str, source: str, home: Path) -> dict[str, float]:
    """One B2 run with the CPU of this process (the scheduler) and of its children."""
    cpu, children = time.process_time(), children_cpu()
    # The LocalExecutor's defaults (try hosts, sending ahead): the overhead is a share of what a
    # task instance costs as deployed, not of a fork per try.
    result = b12_local.run_one(kind, source, "b2_fanout", home, tries_per_process=100, send_ahead=True)
    cpu, children = time.process_time() - cpu, children_cpu() - children
    return {**result, "cpu": cpu, "cpu_per_ti_ms": (cpu + children) / result["n"] * 1000}


def run(kind: str, fanout: int, home: Path, *, metrics: bool, scrape: float) -> dict[str, float]:
    source = b12_local.FANOUT.format(n=fanout)
    if not metrics:
        return measured(kind, source, home)
    with metrics_on(scrape) as bundles:
        result = measured(kind, source, home)
    ti_starts = bundles[0].prometheus.registry.get_sample_value(  # type: ignore[union-attr]
        "windvane_ti_finish_total", {"dag_id": "b2_fanout", "task_id": "last", "state": "success"}
    )
    assert ti_starts == 1, "metrics were not recorded"
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", default="sqlite")
    parser.add_argument("--fanout", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=4)
    parser.add_argument("--scrape", type=float, default=15.0, help="seconds between scrapes of /metrics")
    args = parser.parse_args()
    rows: list[list[object]] = []
    summary: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        for kind in args.db.split(","):
            spans: dict[bool, list[float]] = {False: [], True: []}
            rates: dict[bool, list[float]] = {False: [], True: []}
            cpus: dict[bool, list[float]] = {False: [], True: []}
            per_ti: dict[bool, list[float]] = {False: [], True: []}
            for i in range(args.repeat):
                for on in (False, True) if i % 2 == 0 else (True, False):  # ABBA: drift hits both
                    r = run(kind, args.fanout, home, metrics=on, scrape=args.scrape)
                    assert r["state_ok"] == 1.0, "B2 run did not succeed"
                    spans[on].append(r["makespan"])
                    rates[on].append(r["tis"])
                    cpus[on].append(r["cpu"])
                    per_ti[on].append(r["cpu_per_ti_ms"])
                    label = "on" if on else "off"
                    rows.append(
                        [kind, i + 1, label, r["n"], r["makespan"], r["tis"], r["cpu"], r["cpu_per_ti_ms"]]
                    )
            for on in (False, True):
                rows.append(
                    [
                        kind,
                        "median",
                        "on" if on else "off",
                        "",
                        median(spans[on]),
                        median(rates[on]),
                        median(cpus[on]),
                        median(per_ti[on]),
                    ]
                )
            ratio = median(per_ti[True]) / median(per_ti[False])
            verdict = "ok" if ratio <= 1.03 else "over target"
            summary.append(
                f"{kind}: CPU per task instance metrics on / off = {ratio:.3f} ({verdict}; target <= 1.03); "
                f"scheduler CPU on / off = {median(cpus[True]) / median(cpus[False]):.3f}; "
                f"makespan on / off = {median(spans[True]) / median(spans[False]):.3f}"
            )
    print(
        table(
            "B2 fan-out with metrics off vs StatsD + Prometheus on"
            " (LocalExecutor parallelism 2, no-op tasks)",
            ["db", "run", "metrics", "TIs", "makespan s", "TI/s", "scheduler CPU s", "CPU ms/TI"],
            rows,
        )
    )
    print("\n".join(summary))


if __name__ == "__main__":
    main()
