"""A scheduler with a LocalExecutor in its own process, for crash tests.

Usage: ``python scheduler_process.py URL LOGS [PARALLELISM] [coordinated]`` (parallelism 2 by
default; ``coordinated``: one of several schedulers on one PostgreSQL, found dead 10 s after its
last heartbeat, or at once when its pid is gone). Once
imported it writes the time into ``LOGS/../scheduler-<pid>.started`` (restart-latency measurements
leave out the interpreter's start, which a loaded machine stretches).
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

from windvane.core.executors.local import LocalExecutor
from windvane.core.scheduler.config import SchedulerConfig
from windvane.core.scheduler.loop import Scheduler
from windvane.core.store.engine import create_db_engine


def main() -> None:
    url, logs = sys.argv[1], sys.argv[2]
    parallelism = int(sys.argv[3]) if len(sys.argv) > 3 else 2
    coordinated = len(sys.argv) > 4 and sys.argv[4] == "coordinated"
    engine = create_db_engine(url)
    executor = LocalExecutor(parallelism, db_url=url, log_folder=logs, heartbeat_seconds=0.5)
    config = SchedulerConfig(
        parallelism=parallelism,
        poll_interval_seconds=0.2,
        idle_sleep_seconds=0.2,
        heartbeat_seconds=0.5 if coordinated else 5.0,
        health_check_threshold_seconds=10 if coordinated else 60,
        task_heartbeat_timeout_seconds=5,
        zombie_check_interval_seconds=0.5,
        coordinated=coordinated,
    )
    scheduler = Scheduler(engine=engine, executor=executor, config=config)
    signal.signal(signal.SIGTERM, lambda *_: scheduler.stop())
    Path(logs).parent.joinpath(f"scheduler-{os.getpid()}.started").write_text(f"{time.time():.3f}")
    scheduler.run(timeout=300)


if __name__ == "__main__":
    main()
