"""A rehearsal try: warm a worker up before it forks its first task process.

CPython specialises bytecode as it runs it and writes those caches into the
code objects; imports, ``strptime``, time-zone and logging state also fill in
lazily. Whatever a forked task process does first, it does in pages it must
copy, and forgets when it exits: every try would start cold. A worker that
runs a no-op try in its own process a few times (no log file, no database,
no fork) before freezing its heap hands each child warm code instead.
"""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime

from windvane.core.authoring.dag import DAG
from windvane.core.authoring.operators.python import PythonOperator
from windvane.core.model.outcome import TryOutcome
from windvane.core.model.workload import TaskInstanceKey, Workload
from windvane.core.worker.inputs import jinja_env_for
from windvane.core.worker.task_child import ChildJob, run_job
from windvane.core.worker.task_log import LOG_FORMAT

_START = datetime(2024, 1, 1, tzinfo=UTC)


def rehearse(db_url: str, *, times: int = 25) -> None:
    """Run a no-op try ``times`` in this process; its log lines go to ``os.devnull``."""
    dag = DAG("windvane_rehearsal", schedule=None, start_date=_START)
    task = PythonOperator(task_id="noop", python_callable=_noop, dag=dag)
    stamp = _START.isoformat()
    workload = Workload(
        key=TaskInstanceKey(0, 0, dag.dag_id, f"manual__{stamp}", task.task_id),
        try_number=1, max_tries=0, job_id=0, fileloc=__file__, run_type="manual", logical_date=stamp,
        data_interval_start=stamp, data_interval_end=stamp,
    )  # fmt: skip
    job = ChildJob(
        workload=workload, dag=dag, task=task, log_path=os.devnull, db_url=db_url, hostname="rehearsal",
        prev_data_interval_start_success=None, prev_data_interval_end_success=None,
        run_start_date=_START, jinja_env=jinja_env_for(dag),
    )  # fmt: skip
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    with open(os.devnull, "w", encoding="utf-8") as sink:
        handler = logging.StreamHandler(sink)
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
        root.handlers[:] = [handler]
        root.setLevel(logging.INFO)
        try:
            for _ in range(times):
                TryOutcome.from_json(run_job(job, handle_sigterm=False).to_json().encode())
        finally:
            root.handlers[:], level = saved
            root.setLevel(level)


def _noop() -> None:
    return None
