"""A DAG processor in its own process, for fault tests.

Usage: ``python processor_process.py URL DAGS_FOLDER``; SIGTERM stops it (exit code 0).
"""

from __future__ import annotations

import signal
import sys
import threading

from windvane.core.processor.manager import DagProcessor
from windvane.core.store.engine import create_db_engine


def main() -> None:
    url, folder = sys.argv[1], sys.argv[2]
    processor = DagProcessor(folder, create_db_engine(url), batch_interval=0.2)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    processor.run(stop, refresh_interval=0.3)


if __name__ == "__main__":
    main()
