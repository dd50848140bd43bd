"""The ``[executor]`` section: how tries run (apart from :mod:`._sections` for size)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from windvane.settings._kinds import Between, Within, setting

_INTERVAL = Within(0, 86_400)  # as in _sections: how often something happens, at most a day
_TIMEOUT = Within(0, 7 * 86_400)  # as in _sections: how long to wait for something, at most a week
_MEBIBYTES = Between(0, 1 << 30)  # as in _sections: a memory limit in MiB, 0 (none) up to 1 EiB


@dataclass(frozen=True)
class ExecutorSettings:
    """Executor options (the local executor)."""

    worker_heartbeat_seconds: float = setting(
        5.0, "How often a local worker records its heartbeat.", check=_INTERVAL
    )
    outcome_folder: Path = setting(  # noqa: RUF009 (Path is immutable)
        Path("worker_outcomes"),
        "Where workers keep a finished try's outcome until its database write lands "
        "(replayed when a worker starts).",
    )
    worker_stop_grace_seconds: float = setting(
        30.0,
        "How long a LocalExecutor worker being stopped (SIGTERM) keeps retrying a final write the "
        "database refuses; past it the outcome stays in its record under outcome_folder and the "
        "next worker that starts writes it.",
        check=_TIMEOUT,
    )
    task_memory_limit_mib: int = setting(
        0,
        "Memory limit of each try in MiB: its cgroup's (the whole tree) in the 'cgroup' containment "
        "with a memory controller, else the try's address space (RLIMIT_AS, inherited by what it "
        "starts); 0 means none. A try that needs more fails naming the limit.",
        check=_MEBIBYTES,
    )
