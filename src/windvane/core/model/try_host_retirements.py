"""Why a try host retired: the bounded ``reason`` label of
``windvane_executor_try_host_retirements_total``, shared by the host that reports it
(:mod:`windvane.core.worker.try_host_loop`) and the metrics catalogue that declares it."""

from __future__ import annotations

#: Its quota; the next try is of another file version; the try rebound, added or deleted a global
#: of the DAG file; left a thread or a process running; changed ``os.environ`` or the working
#: directory; the host could not load the task; the host ended during a try.
RETIREMENT_REASONS = (
    "quota",
    "file_changed",
    "globals_changed",
    "thread_left",
    "process_left",
    "environ_changed",
    "cwd_changed",
    "unloadable",
    "host_ended",
)
