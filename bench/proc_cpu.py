"""CPU seconds of processes from ``/proc`` (Linux): schedulers and the PostgreSQL backends serving them.

A :class:`CpuSampler` thread reads ``/proc/<pid>/stat`` every few milliseconds for the processes it
is told of and for every PostgreSQL backend connected to one database (found by its command line,
``postgres: <user> <database> ...``), keeping the first and last CPU time seen of each; a backend
that exits between two samples loses at most one interval of its CPU. It reads, never signals.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

_TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU of ``pid`` (None when it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


def backends_of(database: str) -> list[int]:
    """Pids of the PostgreSQL backends connected to ``database``."""
    out = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            cmd = Path(entry.path, "cmdline").read_bytes()
        except OSError:
            continue
        parts = cmd.replace(b"\0", b" ").split()
        if len(parts) >= 3 and parts[0] == b"postgres:" and database.encode() in parts[2:4]:
            out.append(int(entry.name))
    return out


class CpuSampler(threading.Thread):
    """Samples the CPU of ``pids`` and of ``database``'s backends until :meth:`stop`."""

    def __init__(self, database: str, pids: list[int], interval: float = 0.02) -> None:
        super().__init__(daemon=True)
        self.database = database
        self.pids = pids
        self.interval = interval
        self.first: dict[int, float] = {}
        self.last: dict[int, float] = {}
        self.backends: set[int] = set()
        self._done = threading.Event()

    def sample(self) -> None:
        found = backends_of(self.database)
        self.backends.update(found)
        for pid in [*self.pids, *found]:
            cpu = cpu_seconds(pid)
            if cpu is not None:
                self.first.setdefault(pid, cpu)
                self.last[pid] = cpu

    def run(self) -> None:
        while not self._done.wait(self.interval):
            self.sample()

    def mark(self) -> None:
        """From now on: what each process had used so far is left out."""
        self.sample()
        self.first = dict(self.last)

    def stop(self) -> tuple[float, float]:
        """Stop; CPU seconds since :meth:`mark` of the given processes and of the backends."""
        self.sample()
        self._done.set()
        self.join()
        used = {pid: self.last[pid] - self.first.get(pid, 0.0) for pid in self.last}
        return sum(used.get(p, 0.0) for p in self.pids), sum(used.get(p, 0.0) for p in self.backends)
