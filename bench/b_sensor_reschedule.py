"""Reschedule-mode sensors: how soon after its reschedule date a waiting sensor pokes again, and how
many of them a pool of 2 slots keeps poking.

N sensors (``mode="reschedule"``, ``poke_interval`` 0.2 s, never satisfied) share a pool of 2 slots
under a real scheduler with a LocalExecutor (parallelism 2). Measured from the ``task_reschedule``
rows: the gap between a reschedule date and the next claim of that sensor (the scheduler's and
executor's latency), and reschedules per second overall.

    python bench/b_sensor_reschedule.py [--sensors N] [--seconds S] [--backends sqlite,postgres]
"""

from __future__ import annotations

import argparse
import itertools
import tempfile
import threading
import time
from pathlib import Path

import pendulum
from _common import fresh_db, median, pct, register, table
from sqlalchemy import Engine, text

from windvane.core.executors.local import LocalExecutor
from windvane.core.model.states import DagRunType
from windvane.core.scheduler.config import SchedulerConfig
from windvane.core.scheduler.loop import Scheduler
from windvane.core.store.engine import begin_write
from windvane.core.store.raw_sql import read_time
from windvane.core.store.run_actions import trigger_dag
from windvane.core.worker.dag_loader import DagLoader

SOURCE = """
from datetime import datetime, timezone
from windvane import DAG
from windvane.sensors import BaseSensorOperator

class Never(BaseSensorOperator):
    def poke(self, context):
        return False

with DAG("bench_sensors", schedule=None, start_date=datetime(2024, 1, 1, tzinfo=timezone.utc)) as dag:
    for i in range({n}):
        Never(task_id=f"s{{i:03d}}", mode="reschedule", poke_interval=0.2, timeout=3600, pool="two")
"""


def measure(kind: str, sensors: int, seconds: float) -> list[object]:
    with fresh_db(kind) as (url, engine), tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench_sensors.py"
        path.write_text(SOURCE.format(n=sensors))
        dag = DagLoader().get_dag(str(path), "bench_sensors")
        ser = register(engine, dag, fileloc=str(path))
        with begin_write(engine) as conn:
            conn.exec_driver_sql("INSERT INTO slot_pool (pool, slots) VALUES ('two', 2)")
            trigger_dag(conn, ser, now=_now(), run_type=DagRunType.MANUAL)
        executor = LocalExecutor(2, db_url=url, log_folder=str(Path(tmp) / "logs"))
        scheduler = Scheduler(
            engine=engine,
            executor=executor,
            config=SchedulerConfig(parallelism=2, poll_interval_seconds=0.2, idle_sleep_seconds=0.2),
        )
        thread = threading.Thread(target=lambda: scheduler.run(timeout=seconds + 30), daemon=True)
        thread.start()
        time.sleep(seconds)  # a fixed measuring window, not synchronisation
        scheduler.stop()
        thread.join(timeout=60)
        gaps, count = _gaps(engine)
    return [
        kind,
        sensors,
        count,
        count / seconds,
        median(gaps) * 1000,
        pct(gaps, 90) * 1000,
        max(gaps, default=float("nan")) * 1000,
    ]


def _gaps(engine: Engine) -> tuple[list[float], int]:
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT ti_id, start_date, reschedule_date FROM task_reschedule ORDER BY ti_id, id")
        ).all()
    gaps = []
    for before, after in itertools.pairwise(rows):
        if before[0] == after[0]:
            start, due = read_time(after[1]), read_time(before[2])
            assert start is not None and due is not None
            gaps.append((start - due).total_seconds())
    return gaps, len(rows)


def _now() -> pendulum.DateTime:
    return pendulum.now("UTC")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sensors", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--backends", default="sqlite,postgres")
    args = parser.parse_args()
    rows = [measure(kind, args.sensors, args.seconds) for kind in args.backends.split(",")]
    header = ["db", "sensors", "reschedules", "per s", "due->claim p50 ms", "p90 ms", "max ms"]
    print(table("Reschedule-mode sensors in a pool of 2 slots", header, rows))


if __name__ == "__main__":
    main()
