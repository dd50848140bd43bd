"""CPU and memory accounting for the runtime benches: this process, its reaped children, the
PostgreSQL backends serving one database, a process's resident set (all read from ``/proc``)."""

from __future__ import annotations

import os
import resource
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.pool import NullPool

_TICK = os.sysconf("SC_CLK_TCK")


def children_cpu() -> float:
    """CPU seconds of this process's children (and theirs) reaped so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def process_cpu(pid: int) -> float | None:
    """CPU seconds (user + system) of a live process, or None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / _TICK


def rss_mib(pid: int) -> float:
    """Resident set of ``pid`` in MiB (0 if gone)."""
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def pss_tree_mib(pid: int) -> float:
    """Proportional set of ``pid`` and its descendants in MiB (``/proc/<pid>/smaps_rollup``): a page
    shared by a worker and the try host forked from it counts once in the sum, not once per process
    as in their resident sets. Processes gone while reading count 0."""
    total_kib, stack = 0, [pid]
    while stack:
        current = stack.pop()
        try:
            with open(f"/proc/{current}/smaps_rollup") as handle:
                for line in handle:
                    if line.startswith("Pss:"):
                        total_kib += int(line.split()[1])
                        break
            with open(f"/proc/{current}/task/{current}/children") as handle:
                stack.extend(int(child) for child in handle.read().split())
        except (OSError, ValueError):
            continue
    return total_kib / 1024


class BackendCpu:
    """The CPU the PostgreSQL backends of one database used while inside :meth:`sampling`
    (sampled every ``interval``: a backend's last fraction of an interval before it exits is
    lost). Zero on SQLite."""

    def __init__(self, engine: Engine, interval: float = 0.2) -> None:
        self._engine = engine
        self._interval = interval
        self._seen: dict[int, tuple[float, float]] = {}  # pid -> (first, last)
        self.seconds = 0.0

    @contextmanager
    def sampling(self) -> Iterator[BackendCpu]:
        if self._engine.dialect.name != "postgresql":
            yield self
            return
        stop = threading.Event()
        # An engine of its own: the sampler's queries are not the measured engine's (b12_local
        # counts that engine's statements per task instance).
        sampler = create_engine(self._engine.url, poolclass=NullPool)
        conn = sampler.connect().execution_options(isolation_level="AUTOCOMMIT")
        own = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
        query = text("SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> :own")

        def sample() -> None:
            for pid in conn.execute(query, {"own": own}).scalars():
                cpu = process_cpu(int(pid))
                if cpu is not None:
                    first, _ = self._seen.get(int(pid), (cpu, cpu))
                    self._seen[int(pid)] = (first, cpu)

        def loop() -> None:
            while not stop.wait(self._interval):
                sample()

        sample()
        thread = threading.Thread(target=loop, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            stop.set()
            thread.join()
            sample()
            conn.close()
            sampler.dispose()
            self.seconds = sum(last - first for first, last in self._seen.values())


@contextmanager
def cpu_split() -> Iterator[dict[str, float]]:
    """CPU seconds of this process (``self``) and of children reaped inside the block
    (``children``)."""
    out: dict[str, float] = {}
    start, kids, wall = time.process_time(), children_cpu(), time.perf_counter()
    yield out
    out["self"] = time.process_time() - start
    out["children"] = children_cpu() - kids
    out["wall"] = time.perf_counter() - wall
