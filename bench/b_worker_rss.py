"""A LocalExecutor worker's memory against the number of DAG files it has run (issue 15).

``--files`` DAG files of one no-op task each; one try of each goes through a LocalExecutor with one
worker, in file order, and the worker's resident set is read after every ``--every`` files. With
``[executor] max_cached_dag_files`` (32 by default) the worker keeps that many files imported, so
its RSS levels off; with a cap above ``--files`` (the behaviour before issue 15) it grows with
every file.

    python bench/b_worker_rss.py [--db sqlite] [--files 300] [--every 50] [--caps 32,100000]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from _common import fresh_db, table
from _cpu import rss_mib

from windvane.core.executors.local import LocalExecutor
from windvane.testing import collect_events, insert_run, insert_task_instances, make_workload

SOURCE = """
from datetime import datetime, timezone
from windvane.core.authoring.dag import DAG
from windvane.core.authoring.operators.python import PythonOperator

PAYLOAD = [str(i) * 10 for i in range(2000)]  # what a real DAG file holds: ~200 KB of objects

def noop():
    return None

with DAG("{dag_id}", schedule=None, start_date=datetime(2024, 1, 1, tzinfo=timezone.utc)) as dag:
    for i in range(20):
        PythonOperator(task_id=f"t{{i}}", python_callable=noop)
"""


def run_one(kind: str, home: Path, files: int, every: int, cap: int) -> list[object]:
    folder = home / f"dags-{kind}-{cap}"
    folder.mkdir()
    paths = []
    for i in range(files):
        path = folder / f"dag_{i:04d}.py"
        path.write_text(SOURCE.format(dag_id=f"rss_{i:04d}"))
        paths.append(str(path))
    samples: list[float] = []
    with fresh_db(kind) as (url, engine):
        executor = LocalExecutor(
            1, db_url=url, log_folder=str(home / f"logs-{kind}-{cap}"), max_cached_dag_files=cap
        )
        executor.start()
        try:
            for i, path in enumerate(paths):
                dag_id = f"rss_{i:04d}"
                run = insert_run(engine, dag_id)
                ids = insert_task_instances(engine, run, dag_id, ["t0"])
                executor.queue(make_workload(ids["t0"], run, dag_id, "t0", path))
                final, _ = collect_events(executor, 1, timeout=120)
                assert final[0].state == "success", final[0].error
                if (i + 1) % every == 0:
                    samples.append(rss_mib(executor._workers[0].process.pid))
        finally:
            executor.end()
    return [kind, cap, *[f"{s:.1f}" for s in samples], f"{samples[-1] - samples[0]:+.1f}"]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", default="sqlite")
    parser.add_argument("--files", type=int, default=300)
    parser.add_argument("--every", type=int, default=50)
    parser.add_argument("--caps", default="32,100000")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for kind in args.db.split(","):
            for cap in (int(c) for c in args.caps.split(",")):
                rows.append(run_one(kind, Path(tmp), args.files, args.every, cap))
    marks = [str(n) for n in range(args.every, args.files + 1, args.every)]
    print(
        table(
            "Worker RSS (MiB) after N DAG files run, one try each (max_cached_dag_files = cap)",
            ["db", "cap", *[f"after {m}" for m in marks], f"growth {marks[0]}->{marks[-1]}"],
            rows,
        )
    )


if __name__ == "__main__":
    main()
