"""DAGs for the tests of the DAG-testing helpers (run, idempotency, determinism, snapshots)."""

from __future__ import annotations

import runpy
from pathlib import Path

import pendulum

from windvane import DAG

EXAMPLES = Path(__file__).parents[2] / "examples" / "dags"
DAY = pendulum.datetime(2024, 3, 4, tz="UTC")
START = pendulum.datetime(2024, 1, 1, tz="UTC")


def partitions_dag() -> DAG:
    """The shipped example: ``load_partition`` upserts (idempotent), ``append_audit`` appends (not)."""
    dag = runpy.run_path(str(EXAMPLES / "partitions.py"))["dag"]
    assert isinstance(dag, DAG)
    return dag
