"""Bytes and build CPU per task of a wide DAG, built in this process (issue 15, task objects).

Builds a fan-out ``start >> [t0 .. tN-1] >> end`` of one operator class (default_args as a DAG file
sets them) and reports, per shape: bytes per task held after the build (tracemalloc, DAG alive) and
CPU microseconds per task to build it (untraced, best of ``--repeat``), and to serialize it. With
``compare_revisions.py`` it prints both trees side by side:

    python bench/compare_revisions.py --base main --work-script b_task_bytes.py --rounds 3
    python bench/b_task_bytes.py [--width 10000] [--repeat 3] [--shapes python,bash,empty,grouped]
    python bench/b_task_bytes.py --shapes all   # every operator, sensor and @task kind
"""

from __future__ import annotations

import argparse
import gc
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from _common import table

from windvane import (
    DAG,
    BashOperator,
    BranchPythonOperator,
    EmailOperator,
    EmptyOperator,
    ExternalTaskSensor,
    FileSensor,
    HttpOperator,
    PythonOperator,
    PythonSensor,
    ShortCircuitOperator,
    SQLExecuteQueryOperator,
    TaskGroup,
    TriggerDagRunOperator,
    task,
)
from windvane.core.authoring.operators.http_sensor import HttpSensor
from windvane.core.authoring.serialize import serialize_dag

DEFAULT_ARGS = {"owner": "data-eng", "retries": 2, "retry_delay": timedelta(minutes=5)}


def noop() -> None:
    return None


def _python(i: int) -> object:
    return PythonOperator(task_id=f"t{i}", python_callable=noop)


def _bash(i: int) -> object:
    return BashOperator(task_id=f"t{i}", bash_command="echo {{ ds }}")


def _empty(i: int) -> object:
    return EmptyOperator(task_id=f"t{i}")


@task
def _flow() -> None:
    return None


def _poke() -> bool:
    return True


SHAPES: dict[str, Callable[[int], object]] = {
    "python": _python,
    "bash": _bash,
    "empty": _empty,
    "taskflow": lambda i: _flow.override(task_id=f"t{i}")(),
    "branch": lambda i: BranchPythonOperator(task_id=f"t{i}", python_callable=noop),
    "short_circuit": lambda i: ShortCircuitOperator(task_id=f"t{i}", python_callable=_poke),
    "python_sensor": lambda i: PythonSensor(task_id=f"t{i}", python_callable=_poke),
    "file_sensor": lambda i: FileSensor(task_id=f"t{i}", filepath=f"/data/{i}.csv"),
    "external_sensor": lambda i: ExternalTaskSensor(task_id=f"t{i}", external_dag_id=f"up{i}"),
    "http_sensor": lambda i: HttpSensor(task_id=f"t{i}", endpoint=f"/ready/{i}"),
    "http": lambda i: HttpOperator(task_id=f"t{i}", endpoint=f"/run/{i}"),
    "sql": lambda i: SQLExecuteQueryOperator(task_id=f"t{i}", conn_id="pg", sql="select 1"),
    "email": lambda i: EmailOperator(task_id=f"t{i}", to="ops@example.com", subject="s", html_content="h"),
    "trigger": lambda i: TriggerDagRunOperator(task_id=f"t{i}", trigger_dag_id=f"d{i}"),
}
#: Every kind: ``--shapes all``.
ALL = ",".join([*SHAPES, "grouped"])


def build(shape: str, width: int) -> DAG:
    start_date = datetime(2024, 1, 1, tzinfo=UTC)
    with DAG(f"wide_{shape}", schedule=None, start_date=start_date, default_args=DEFAULT_ARGS) as dag:
        start, end = EmptyOperator(task_id="start"), EmptyOperator(task_id="end")
        if shape == "grouped":  # 100 tasks per group: task groups and prefixed ids
            for g in range(max(1, width // 100)):
                with TaskGroup(f"g{g}") as group:
                    for i in range(100):
                        _python(i)
                start >> group >> end
        else:
            make = SHAPES[shape]
            middle = [make(i) for i in range(width)]
            start >> middle >> end
    return dag


def measure(shape: str, width: int, repeat: int) -> list[object]:
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    dag = build(shape, width)
    gc.collect()
    held = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    tasks = len(dag.task_dict)
    del dag
    build_cpu, serialize_cpu = [], []
    for _ in range(repeat):
        gc.collect()
        t0 = time.process_time()
        dag = build(shape, width)
        t1 = time.process_time()
        serialize_dag(dag)
        t2 = time.process_time()
        build_cpu.append(t1 - t0)
        serialize_cpu.append(t2 - t1)
        del dag
    return [
        shape,
        tasks,
        round(held / tasks),
        round(min(build_cpu) / tasks * 1e6, 1),
        round(min(serialize_cpu) / tasks * 1e6, 1),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--width", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--shapes", default="python,bash,empty,grouped")
    args = parser.parse_args()
    shapes = ALL if args.shapes == "all" else args.shapes
    rows = [measure(shape, args.width, args.repeat) for shape in shapes.split(",")]
    print(
        table(
            "bytes and CPU per task of a wide DAG (built in-process)",
            ["shape", "tasks", "bytes/task", "build us/task", "serialize us/task"],
            rows,
        )
    )


if __name__ == "__main__":
    main()
