"""What a Celery try's two reports (running, final) cost the worker: Celery's result store beside
Windvane's :class:`~windvane.celery.reporting.ResultWriter`, in one run, on this machine's Redis.

Celery's ``store_result`` does a ``GET`` (not to overwrite a success), then ``SETEX`` + ``PUBLISH``
in a pipeline, per state; the writer does one ``SETEX``. Both store the same JSON meta, which the
executor's reader decodes alike. Printed: CPU and wall time per try (two reports), and Redis round
trips per try, alternating the two ways in rounds so that load changes hit both.

    python bench/celery_reports.py [--tries 2000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import time
import uuid

from _common import table

from windvane.celery.app import make_app
from windvane.celery.config import CeleryConfig
from windvane.celery.messages import event_to_dict
from windvane.celery.reporting import ResultWriter
from windvane.core.model.workload import TaskEvent, TaskInstanceKey

REDIS = os.environ.get("WINDVANE_BENCH_REDIS_URL", "redis://127.0.0.1:6379")


def _event(i: int, state: str | None) -> TaskEvent:
    key = TaskInstanceKey(ti_id=i, dag_run_id=1, dag_id="bench", run_id="manual__1", task_id=f"t{i}")
    return TaskEvent(key=key, try_number=1, state=state, at=time.time())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tries", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    app = make_app(CeleryConfig(broker_url=f"{REDIS}/13", result_backend=f"{REDIS}/14"), worker=True)
    backend, writer = app.backend, ResultWriter(app)
    totals: dict[str, list[float]] = {"celery store_result": [0.0, 0.0], "windvane ResultWriter": [0.0, 0.0]}
    prefix = uuid.uuid4().hex[:8]

    def celery_way(task_id: str, i: int) -> None:
        backend.store_result(task_id, event_to_dict(_event(i, "running")), "STARTED")
        backend.store_result(task_id, event_to_dict(_event(i, "success")), "SUCCESS")

    def windvane_way(task_id: str, i: int) -> None:
        writer.started(task_id, _event(i, "running"))
        writer.finished(task_id, _event(i, "success"))

    for _ in range(args.rounds):
        for name, way in (("celery store_result", celery_way), ("windvane ResultWriter", windvane_way)):
            ids = [f"bench-{prefix}-{uuid.uuid4().hex}" for _ in range(args.tries)]
            cpu, wall = time.process_time(), time.perf_counter()
            for i, task_id in enumerate(ids):
                way(task_id, i)
            totals[name][0] += time.process_time() - cpu
            totals[name][1] += time.perf_counter() - wall
            backend.client.delete(*[backend.get_key_for_task(t) for t in ids])
    n = args.tries * args.rounds
    base = totals["celery store_result"][0] / n
    rows = [
        [name, 1e3 * cpu / n, 1e3 * wall / n, 6 if name.startswith("celery") else 2, (cpu / n) / base]
        for name, (cpu, wall) in totals.items()
    ]
    load = os.getloadavg()[0]
    print(table(f"Celery reports per try (running + final), {n} tries, load average {load:.1f}",
                ["way", "CPU ms/try", "wall ms/try", "Redis commands", "CPU ratio"], rows))  # fmt: skip
    app.close()


if __name__ == "__main__":
    main()
