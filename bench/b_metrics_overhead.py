"""Metrics overhead on B2 (fan-out 1 -> 1000 -> 1, LocalExecutor parallelism 2; see b12_local.run_one):
metrics off vs StatsD (DogStatsD tags, to a local UDP socket) and Prometheus (``/metrics`` served and
scraped every ``--scrape`` seconds, 15 by default like a usual Prometheus) both on.

Two measures, and the verdict on the second (target: metrics on costs <= 3 % of a task instance's CPU):

1. Whole runs, alternating off/on, on/off... ``--repeat`` times: each run's makespan, TI/s and CPU ms
   per task instance while the scheduler runs, split scheduler (this process, where metrics are
   recorded) / workers and task processes (reaped children; the database server's are not counted,
   which makes the share larger). Whole-run CPU per TI spreads +-15 % between runs on a shared
   machine, so beside the on/off ratio of the medians the table gives the paired difference of the
   scheduler's CPU (each "on" run minus its neighbouring "off" run) with a 95 % confidence interval.
2. The metrics work itself, in this process (:mod:`_metrics_boundary`): the calls one real B2 run made at
   the scheduler's metrics boundary replayed ``--replays`` times into metrics off and on, alternating
   (process CPU, median and spread of the difference), plus what the replay leaves out, each measured
   apart: the SQL statement counter (CPU per statement x the scheduler's statements per TI) and one
   ``/metrics`` scrape with gzip (amortised over the task instances of a scrape interval at the
   measured TI/s). Overhead = that work / total CPU per TI with metrics off (median of 1.).

    python bench/b_metrics_overhead.py [--db sqlite,postgres] [--fanout 1000] [--repeat 6]
                                       [--replays 20] [--scrape 15]
"""

from __future__ import annotations

import argparse
import gzip
import socket
import statistics
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import _metrics_boundary
import b12_local
from _common import median, table
from b_metrics_parts import statement_cpu

from windvane.metrics.metrics_http import GZIP_LEVEL
from windvane.metrics.wiring import MetricsBundle, build_metrics

TARGET = 0.03
#: Two-sided 95 % quantiles of Student's t by degrees of freedom (normal beyond the table).
_T95 = {
    1: 12.71,
    2: 4.30,
    3: 3.18,
    4: 2.78,
    5: 2.57,
    6: 2.45,
    7: 2.36,
    8: 2.31,
    9: 2.26,
    10: 2.23,
    11: 2.20,
    12: 2.18,
    13: 2.16,
    14: 2.14,
    15: 2.13,
    16: 2.12,
    17: 2.11,
    18: 2.10,
    19: 2.09,
}


@contextmanager
def metrics_on(scrape_seconds: float) -> Iterator[list[MetricsBundle]]:
    """Make b12_local's scheduler report to both backends (and scrape it) while inside."""
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", 0))  # a StatsD server that never reads: sends cost what they cost
    settings = _metrics_boundary.settings(sink.getsockname()[1])
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


def run(kind: str, fanout: int, home: Path, *, metrics: bool, scrape: float) -> dict[str, float]:
    """One B2 run; its CPU is counted while the scheduler runs (not the set-up of the database)."""
    source = b12_local.FANOUT.format(n=fanout)
    # The LocalExecutor's defaults (try hosts, sending ahead): the overhead is a share of what a
    # task instance costs as deployed, not of a fork per try.
    if not metrics:
        with _metrics_boundary.timed() as spent:
            result = b12_local.run_one(
                kind, source, "b2_fanout", home, tries_per_process=100, send_ahead=True
            )
        return {**result, "boundary": spent[0] / result["n"] * 1e6}
    with _metrics_boundary.timed() as spent, metrics_on(scrape) as bundles:
        result = b12_local.run_one(kind, source, "b2_fanout", home, tries_per_process=100, send_ahead=True)
    finished = bundles[0].prometheus.registry.get_sample_value(  # type: ignore[union-attr]
        "windvane_ti_finish_total", {"dag_id": "b2_fanout", "task_id": "last", "state": "success"}
    )
    assert finished == 1, "metrics were not recorded"
    return {**result, "boundary": spent[0] / result["n"] * 1e6}


def interval(diffs: list[float]) -> tuple[float, float, float]:
    """Mean of paired differences and its 95 % confidence interval (Student's t)."""
    mean = statistics.fmean(diffs)
    if len(diffs) < 2:
        return mean, float("-inf"), float("inf")
    half = _T95.get(len(diffs) - 1, 1.96) * statistics.stdev(diffs) / len(diffs) ** 0.5
    return mean, mean - half, mean + half


def scrape_ms(calls: list[_metrics_boundary.Call]) -> float:
    """CPU ms of one ``/metrics`` answer (rendered afresh, gzipped) holding a B2 run's series."""
    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server.bind(("127.0.0.1", 0))
    bundle = build_metrics(
        _metrics_boundary.settings(server.getsockname()[1]), executor_name="local", service="scheduler"
    )
    try:
        assert bundle.prometheus is not None and bundle.metrics_observer is not None
        bundle.metrics_observer.loop.queries = _metrics_boundary._Statements()  # type: ignore[assignment]
        _metrics_boundary._play(calls, bundle.observer)
        start = time.process_time()
        gzip.compress(bundle.prometheus.exposition(), compresslevel=GZIP_LEVEL)
        return (time.process_time() - start) * 1000
    finally:
        bundle.close()
        server.close()


def whole_runs(kind: str, args: argparse.Namespace, home: Path) -> dict[bool, list[dict[str, float]]]:
    """``--repeat`` pairs of B2 runs, metrics off and on, alternating (ABBA: drift hits both)."""
    runs: dict[bool, list[dict[str, float]]] = {False: [], True: []}
    for i in range(args.repeat):
        for on in (False, True) if i % 2 == 0 else (True, False):
            r = run(kind, args.fanout, home, metrics=on, scrape=args.scrape)
            assert r["state_ok"] == 1.0, "B2 run did not succeed"
            runs[on].append({**r, "total": r["cpu_sched"] + r["cpu_workers"], "run": i + 1})
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", default="sqlite")
    parser.add_argument("--fanout", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=6, help="alternating off/on pairs of whole runs")
    parser.add_argument("--replays", type=int, default=20, help="replays of a run's metrics calls, each side")
    parser.add_argument("--scrape", type=float, default=15.0, help="seconds between scrapes of /metrics")
    args = parser.parse_args()
    rows: list[list[object]] = []
    paired: list[list[object]] = []
    work_rows: list[list[object]] = []
    summary: list[str] = []
    counter_us = float(statement_cpu(20000)[3])  # type: ignore[arg-type]
    with tempfile.TemporaryDirectory() as tmp:
        for kind in args.db.split(","):
            runs = whole_runs(kind, args, Path(tmp))
            for on in (False, True):
                for r in runs[on]:
                    rows.append(
                        [
                            kind,
                            r["run"],
                            "on" if on else "off",
                            r["n"],
                            r["makespan"],
                            r["tis"],
                            r["cpu_sched"],
                            r["cpu_workers"],
                            r["total"],
                            r["boundary"],
                        ]
                    )

            def med(on: bool, key: str, runs: dict[bool, list[dict[str, float]]] = runs) -> float:
                return median([r[key] for r in runs[on]])

            for on in (False, True):
                rows.append(
                    [
                        kind,
                        "median",
                        "on" if on else "off",
                        "",
                        med(on, "makespan"),
                        med(on, "tis"),
                        med(on, "cpu_sched"),
                        med(on, "cpu_workers"),
                        med(on, "total"),
                        med(on, "boundary"),
                    ]
                )
            total = med(False, "total") * 1000  # µs per TI, metrics off: the denominator
            diffs = [b["cpu_sched"] - a["cpu_sched"] for a, b in zip(runs[False], runs[True], strict=True)]
            mean, low, high = (x * 1000 for x in interval(diffs))
            paired.append(
                [
                    kind,
                    len(diffs),
                    total,
                    min(r["total"] for r in runs[False]) * 1000,
                    max(r["total"] for r in runs[False]) * 1000,
                    mean,
                    low,
                    high,
                    f"{mean / total:.1%} [{low / total:.1%}, {high / total:.1%}]",
                ]
            )
            # The in-situ figure: the boundary's thread CPU, on minus off (medians), and its spread.
            off_boundary = med(False, "boundary")
            in_situ = med(True, "boundary") - off_boundary
            situ_low = min(r["boundary"] for r in runs[True]) - off_boundary
            situ_high = max(r["boundary"] for r in runs[True]) - off_boundary
            replayed = "-"
            if args.replays:
                calls, tis = _metrics_boundary.record(kind, args.fanout)
                played = _metrics_boundary.replay(calls, tis, args.replays)
                diff, lowest, highest = _metrics_boundary.spread(played["diff"])
                replayed = f"{diff:.1f} ({lowest:.1f}-{highest:.1f})"
                scrape = scrape_ms(calls) * 1000 / (args.scrape * med(False, "tis"))
            else:
                scrape = 0.0
            counter = counter_us * med(True, "sched_sql")
            extra = counter + scrape
            work = in_situ + extra
            share = work / total
            work_rows.append(
                [
                    kind,
                    in_situ,
                    f"{situ_low:.1f}-{situ_high:.1f}",
                    replayed,
                    counter,
                    scrape,
                    work,
                    total,
                    f"{share:.2%}",
                    f"{(situ_low + extra) / total:.2%}-{(situ_high + extra) / total:.2%}",
                ]
            )
            verdict = "ok" if share <= TARGET else "over target"
            summary.append(
                f"{kind}: metrics cost {work:.0f} µs of CPU per TI = {share:.2%} of {total / 1000:.3f} ms "
                f"({verdict}; target <= {TARGET:.0%}). Whole runs: scheduler {mean:+.0f} µs/TI "
                f"(95 % CI {low:+.0f} to {high:+.0f}), "
                f"CPU per TI on / off {med(True, 'total') * 1000 / total:.3f}"
            )
    print(
        table(
            "B2 fan-out with metrics off vs StatsD + Prometheus on (LocalExecutor parallelism 2, no-op tasks;"
            " CPU ms per TI while the scheduler runs, the metrics boundary's thread CPU in µs per TI)",
            [
                "db",
                "run",
                "metrics",
                "TIs",
                "makespan s",
                "TI/s",
                "scheduler",
                "workers",
                "total",
                "boundary µs",
            ],
            rows,
        )
    )
    print()
    print(
        table(
            "Whole runs: the scheduler's extra CPU with metrics on, paired (each on minus the off beside it)",
            [
                "db",
                "pairs",
                "total off µs/TI",
                "lowest",
                "highest",
                "extra µs/TI mean",
                "95% CI low",
                "95% CI high",
                "share of total [CI]",
            ],
            paired,
        )
    )
    print()
    print(
        table(
            "The metrics work, µs of CPU per TI: at the boundary in the runs (on minus off, medians; range"
            " over the on runs), replayed in this process (median, range), the statement counter, the scrape",
            [
                "db",
                "in situ",
                "range",
                "replay",
                "statement counter",
                "scrape",
                "metrics work",
                "total off",
                "share",
                "share range",
            ],
            work_rows,
        )
    )
    print("\n".join(summary))


if __name__ == "__main__":
    main()
