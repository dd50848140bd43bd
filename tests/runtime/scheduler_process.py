"""A scheduler with a LocalExecutor in its own process, for crash tests.

Usage: ``python scheduler_process.py URL LOGS``.
"""

from __future__ import annotations

import signal
import sys

from windvane.core.executors.local import LocalExecutor
from windvane.core.scheduler.config import SchedulerConfig
from windvane.core.scheduler.loop import Scheduler
from windvane.core.store.engine import create_db_engine


def main() -> None:
    url, logs = sys.argv[1], sys.argv[2]
    engine = create_db_engine(url)
    executor = LocalExecutor(2, db_url=url, log_folder=logs, heartbeat_seconds=0.5)
    config = SchedulerConfig(
        parallelism=2,
        poll_interval_seconds=0.2,
        idle_sleep_seconds=0.2,
        health_check_threshold_seconds=60,
        task_heartbeat_timeout_seconds=5,
        zombie_check_interval_seconds=0.5,
    )
    scheduler = Scheduler(engine=engine, executor=executor, config=config)
    signal.signal(signal.SIGTERM, lambda *_: scheduler.stop())
    scheduler.run(timeout=300)


if __name__ == "__main__":
    main()
