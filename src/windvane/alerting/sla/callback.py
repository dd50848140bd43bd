"""``sla_miss_callback(dag, task_list, blocking_task_list, slas, blocking_tis)``, in a forked child.

Airflow 2's signature and meanings, called positionally once per batch (the
misses of one DAG claimed in one tick): ``task_list`` and ``blocking_task_list``
are ``"<task_id> on <logical date>"`` lines, ``slas`` the
:class:`~windvane.alerting.sla.decisions.SlaMiss` values, ``blocking_tis`` the
:class:`~windvane.alerting.sla.decisions.BlockingTi` values (task instances of the
missed runs that have not succeeded). Run deadline misses are not passed: they
are alerted, and the callback stays about task SLAs as in Airflow.
"""

from __future__ import annotations

from collections.abc import Sequence

from windvane.alerting.forked_calls import CallReport, call_each, call_forked
from windvane.alerting.sla.decisions import BlockingTi, SlaMiss, task_list
from windvane.core.worker.dag_loader import DagLoader


def call_sla_callback(
    fileloc: str, dag_id: str, slas: Sequence[SlaMiss], blocking_tis: Sequence[BlockingTi], *, timeout: float
) -> CallReport:
    """Load ``dag_id`` from ``fileloc`` in a forked child and call its ``sla_miss_callback``(s)."""
    return call_forked(lambda: _in_child(fileloc, dag_id, list(slas), list(blocking_tis)), timeout=timeout)


def _in_child(
    fileloc: str, dag_id: str, slas: list[SlaMiss], blocking_tis: list[BlockingTi]
) -> tuple[int, list[str]]:
    dag = DagLoader().get_dag(fileloc, dag_id)
    return call_each(
        getattr(dag, "sla_miss_callback", None),
        dag,
        task_list(slas),
        task_list(blocking_tis),
        slas,
        blocking_tis,
    )
