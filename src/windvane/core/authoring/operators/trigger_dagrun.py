"""TriggerDagRunOperator: queue a run of another DAG, and optionally wait for it (Airflow 2's).

The run is queued through ``context["ti"].metadata`` (:mod:`windvane.core.task_api.metadata`):
a ``manual`` run, run id ``manual__<logical date>`` unless ``trigger_run_id`` is given, created
exactly as ``windvane dags trigger`` creates one. The task pushes the XComs ``trigger_run_id``
and ``trigger_logical_date_iso`` and logs the run id with a CLI line to follow it.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any, ClassVar

import pendulum

from windvane.core.authoring import validation as v
from windvane.core.authoring.baseoperator import BaseOperator
from windvane.core.authoring.per_instance import PerInstance, keep
from windvane.core.model.states import DagRunState
from windvane.core.task_api.metadata import RunMetadata
from windvane.errors import DagDefinitionError, ExternalTaskError, TaskFailedNoRetry

log = logging.getLogger("windvane.task")

XCOM_RUN_ID = "trigger_run_id"
XCOM_LOGICAL_DATE_ISO = "trigger_logical_date_iso"
RUN_STATES = frozenset(s.value for s in DagRunState)


class TriggerDagRunOperator(BaseOperator):
    """Trigger a run of ``trigger_dag_id``.

    :param trigger_dag_id: the DAG to run (templated).
    :param trigger_run_id: its run id (templated; default ``manual__<logical date>``).
    :param conf: the run's configuration, a JSON object (templated).
    :param logical_date: a datetime or ISO string (templated; default now).
    :param reset_dag_run: when a run with that id exists, clear it to run again (else fail).
    :param wait_for_completion: wait until the run reaches ``allowed_states`` (or fail on
        ``failed_states``), checking every ``poke_interval`` seconds.
    """

    template_fields: ClassVar[tuple[str, ...]] = ("trigger_dag_id", "trigger_run_id", "logical_date", "conf")
    ui_color: ClassVar[str] = "#ffefeb"
    # Defaults on the class (a task stores what it changes); lists and dicts are made when first read.
    trigger_run_id: str | None = None
    conf: Any = PerInstance(dict)
    logical_date: Any = None
    reset_dag_run: bool = False
    wait_for_completion: bool = False
    poke_interval: float = 60.0
    allowed_states: PerInstance[list[str]] = PerInstance(lambda: [DagRunState.SUCCESS.value])
    failed_states: PerInstance[list[str]] = PerInstance(lambda: [DagRunState.FAILED.value])

    def __init__(
        self,
        *,
        trigger_dag_id: str,
        trigger_run_id: str | None = None,
        conf: Mapping[str, Any] | None = None,
        logical_date: str | datetime | None = None,
        reset_dag_run: bool = False,
        wait_for_completion: bool = False,
        poke_interval: float | timedelta = 60,
        allowed_states: Iterable[str] | None = None,
        failed_states: Iterable[str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        owner = v.owner_name(self.task_id, self.dag.dag_id if self.dag is not None else None)
        self.trigger_dag_id = v.string(trigger_dag_id, "trigger_dag_id", owner)
        keep(self, "trigger_run_id", v.opt_string(trigger_run_id, "trigger_run_id", owner))
        keep(self, "conf", v.mapping(conf, "conf", owner))
        if logical_date is not None and not isinstance(logical_date, str | datetime):
            raise DagDefinitionError(
                f"{owner}: logical_date must be a str or a datetime, got {logical_date!r}"
            )
        keep(self, "logical_date", logical_date)
        keep(self, "reset_dag_run", v.flag(reset_dag_run, "reset_dag_run", owner))
        keep(self, "wait_for_completion", v.flag(wait_for_completion, "wait_for_completion", owner))
        keep(self, "poke_interval", v.duration(poke_interval, "poke_interval", owner).total_seconds())
        keep(
            self,
            "allowed_states",
            _run_states(allowed_states, [DagRunState.SUCCESS.value], "allowed_states", owner),
        )
        keep(
            self,
            "failed_states",
            _run_states(failed_states, [DagRunState.FAILED.value], "failed_states", owner),
        )

    def execute(self, context: dict[str, Any]) -> None:
        metadata: RunMetadata = context["ti"].metadata
        try:
            json.dumps(self.conf)
        except (TypeError, ValueError) as exc:
            raise TaskFailedNoRetry(
                f"task {self.task_id!r}: conf must be JSON-serializable ({exc})"
            ) from None
        run = metadata.trigger_run(
            self.trigger_dag_id,
            run_id=self.trigger_run_id,
            logical_date=self._logical_date(),
            conf=self.conf,
            reset=self.reset_dag_run,
        )
        verb = "Cleared and re-queued" if run.reset else "Triggered"
        log.info("%s run %s of DAG %s", verb, run.run_id, run.dag_id)
        log.info("Follow it with: windvane tasks states-for-dag-run %s %s", run.dag_id, run.run_id)
        ti = context["ti"]
        ti.xcom_push(XCOM_LOGICAL_DATE_ISO, run.logical_date.isoformat())
        ti.xcom_push(XCOM_RUN_ID, run.run_id)
        if not self.wait_for_completion:
            return
        while True:
            log.info(
                "Waiting for run %s of DAG %s to reach %s ...", run.run_id, run.dag_id, self.allowed_states
            )
            self.sleep(self.poke_interval)
            state = metadata.run_state(run.dag_id, run.run_id)
            if state in self.failed_states:
                raise ExternalTaskError(f"run {run.run_id} of DAG {run.dag_id!r} ended {state}")
            if state in self.allowed_states:
                log.info("Run %s of DAG %s ended %s", run.run_id, run.dag_id, state)
                return

    def sleep(self, seconds: float) -> None:
        """How the operator waits between checks of the triggered run."""
        time.sleep(seconds)

    def _logical_date(self) -> datetime | None:
        value = self.logical_date
        if value is None or isinstance(value, datetime):
            return value
        try:
            parsed: object = pendulum.parse(str(value), tz="UTC")
        except (ValueError, TypeError) as exc:
            raise TaskFailedNoRetry(f"task {self.task_id!r}: logical_date {value!r} is not a date") from exc
        if not isinstance(parsed, datetime):
            raise TaskFailedNoRetry(f"task {self.task_id!r}: logical_date {value!r} is not a date and time")
        return parsed


def _run_states(given: Iterable[str] | None, default: list[str], name: str, owner: str) -> list[str]:
    states = [str(s) for s in given] if given else default
    unknown = sorted(set(states) - RUN_STATES)
    if unknown:
        raise DagDefinitionError(f"{owner}: {name} {unknown} are not DAG run states ({sorted(RUN_STATES)})")
    return states
