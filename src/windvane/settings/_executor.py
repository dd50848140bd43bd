"""The ``[executor]`` section: how tries run (apart from :mod:`._sections` for size)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from windvane.settings._kinds import Between, Within, setting

_INTERVAL = Within(0, 86_400)  # as in _sections: how often something happens, at most a day
_TIMEOUT = Within(0, 7 * 86_400)  # as in _sections: how long to wait for something, at most a week
_MEBIBYTES = Between(0, 1 << 30)  # as in _sections: a memory limit in MiB, 0 (none) up to 1 EiB
_PROCESSES = Between(1, 1024)


_TRIES_PER_PROCESS = (
    "Tries of one DAG file a local worker runs in one forked process (a try host), one after the "
    "other; 1: a fork per try, as in Airflow. Each try gets a copy of its task, its own log and "
    "supervision; the host is replaced after a try that rebinds a global of the DAG file, leaves a "
    "thread or process running or changes os.environ or the working directory; imports and objects "
    "the DAG file's globals point to are shared. A fork per try is kept when task_memory_limit_mib "
    "is set, with [core] process_containment = 'cgroup', and for tasks with isolated=True. "
    "~1/3 of a fork per try's CPU."
)
_SEND_AHEAD = (
    "Send busy local workers their next try ahead: recording a try's outcome also claims the next "
    "(one commit, not two); a try running past 0.5 s hands it back. Each busy worker holds up to "
    "2 tries ahead, so the scheduler may queue up to 3 x [core] parallelism tries; at most "
    "parallelism run. false: each worker is handed one try at a time."
)
_MAX_CACHED_DAG_FILES = (
    "DAG files a local worker keeps imported (least recently used dropped): its memory does not "
    "grow with the DAG files it has run."
)


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
        "How long a LocalExecutor worker, or a Celery worker's pool process, being stopped (SIGTERM) "
        "keeps retrying a final write the database refuses; past it the outcome stays in its record "
        "under outcome_folder and the next LocalExecutor worker that starts writes it.",
        check=_TIMEOUT,
    )
    task_memory_limit_mib: int = setting(
        0,
        "Memory limit of each try in MiB: its cgroup's (the whole tree) in the 'cgroup' containment "
        "with a memory controller, else the try's address space (RLIMIT_AS, inherited by what it "
        "starts); 0 means none. A try that needs more fails naming the limit.",
        check=_MEBIBYTES,
    )
    tries_per_process: int = setting(100, _TRIES_PER_PROCESS, check=Between(1, 100_000))
    send_ahead: bool = setting(True, _SEND_AHEAD)
    max_cached_dag_files: int = setting(32, _MAX_CACHED_DAG_FILES, check=_PROCESSES)
