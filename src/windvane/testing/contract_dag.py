"""The DAG the executor contract queues tries of, and the outcomes its tasks have.

:func:`write_contract_dag` writes the file into a DAGs folder. Its tasks:

* ``ok0`` .. ``ok7`` — leave a marker file, return ``"ok"`` (an XCom);
* ``fail`` — leaves a marker, raises ``RuntimeError("contract failure")``, no retries;
* ``flaky`` — the same with ``retries=1`` and a 60 s ``retry_delay``;
* ``block`` — leaves a marker, then waits (at most 30 s) until the file
  ``release`` appears next to the markers.

Executors that do not run task code (:class:`~windvane.testing.InstantExecutor`,
:class:`~windvane.testing.ScriptedExecutor`) reproduce those outcomes with
:func:`contract_outcome` / :func:`contract_step`.
"""

from __future__ import annotations

from pathlib import Path

from windvane.core.model.workload import Workload
from windvane.testing.scripted import Step

DAG_ID = "executor_contract"
FILE_NAME = "executor_contract.py"
OK_TASKS = tuple(f"ok{i}" for i in range(8))
#: The message of the contract DAG's failing tasks.
FAILURE = "contract failure"
RETRY_DELAY_SECONDS = 60.0

_SOURCE = '''\
"""The executor contract's DAG (written by windvane.testing.contract_dag)."""
import os
import time
from datetime import datetime, timedelta, timezone

from windvane.core.authoring.dag import DAG
from windvane.core.authoring.operators.python import PythonOperator

MARKERS = {markers!r}


def mark(ti):
    with open(os.path.join(MARKERS, f"{{ti.task_id}}.{{ti.try_number}}"), "w"):
        pass


def ok(ti):
    mark(ti)
    return "ok"


def fail(ti):
    mark(ti)
    raise RuntimeError({failure!r})


def block(ti):
    mark(ti)
    deadline = time.monotonic() + 30
    while not os.path.exists(os.path.join(MARKERS, "release")):
        if time.monotonic() > deadline:
            raise TimeoutError("never released")
        time.sleep(0.02)


with DAG({dag_id!r}, schedule=None, start_date=datetime(2024, 1, 1, tzinfo=timezone.utc)) as dag:
    for task_id in {ok_tasks!r}:
        PythonOperator(task_id=task_id, python_callable=ok)
    PythonOperator(task_id="fail", python_callable=fail)
    PythonOperator(task_id="flaky", python_callable=fail, retries=1,
                   retry_delay=timedelta(seconds={retry_delay!r}))
    PythonOperator(task_id="block", python_callable=block)
'''


def write_contract_dag(dags_folder: Path, markers: Path) -> str:
    """Write the contract DAG into ``dags_folder`` (its tasks leave markers in ``markers``);
    the file's path."""
    dags_folder.mkdir(parents=True, exist_ok=True)
    markers.mkdir(parents=True, exist_ok=True)
    path = dags_folder / FILE_NAME
    path.write_text(
        _SOURCE.format(
            markers=str(markers),
            failure=FAILURE,
            dag_id=DAG_ID,
            ok_tasks=OK_TASKS,
            retry_delay=RETRY_DELAY_SECONDS,
        )
    )
    return str(path)


def contract_outcome(workload: Workload) -> str | tuple[str, float]:
    """The final state a try of the contract DAG reaches, as an InstantExecutor ``outcome``."""
    if workload.task_id == "fail" or (workload.task_id == "flaky" and workload.try_number > 1):
        return "failed"
    if workload.task_id == "flaky":
        return ("up_for_retry", RETRY_DELAY_SECONDS)
    return "success"


def contract_step(workload: Workload) -> Step:
    """The same outcomes as a ScriptedExecutor ``script`` (one second per try)."""
    decided = contract_outcome(workload)
    if isinstance(decided, tuple):
        return Step(decided[0], error=FAILURE, retry_after=decided[1])
    return Step(decided, error=FAILURE if decided == "failed" else None)
