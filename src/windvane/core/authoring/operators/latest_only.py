"""LatestOnlyOperator: let downstream tasks run only in the latest scheduled run (Airflow 2's).

A run that is not the latest (a catch-up or backfill run whose next interval has already begun)
skips the operator's direct downstream tasks; their trigger rules carry the skip further. Manual
runs and a DAG's last scheduled run always proceed.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

import pendulum

from windvane.core.authoring.baseoperator import BaseOperator
from windvane.core.authoring.operators.skipmixin import SkipMixin
from windvane.core.model.states import DagRunType
from windvane.core.timetables.base import DataInterval, TimeRestriction

log = logging.getLogger("windvane.task")


class LatestOnlyOperator(SkipMixin, BaseOperator):
    """Skip the direct downstream tasks unless this run is the latest (see the module doc)."""

    ui_color: ClassVar[str] = "#e9ffdb"

    def execute(self, context: dict[str, Any]) -> list[str]:
        follow = sorted(self.downstream_task_ids)
        chosen = follow if self._is_latest(context) else []
        self.skip_all_except(context["ti"], chosen)
        return chosen

    def now(self) -> pendulum.DateTime:
        """The current time (UTC); tests replace it."""
        return pendulum.now("UTC")

    def _is_latest(self, context: dict[str, Any]) -> bool:
        run = context["dag_run"]
        if run.run_type == DagRunType.MANUAL.value:
            log.info("Externally triggered DAG run: allowing execution to proceed.")
            return True
        dag = self.dag
        assert dag is not None  # a running task belongs to a DAG
        restriction = TimeRestriction(earliest=None, latest=None, catchup=True, now=self.now())
        interval = DataInterval(run.data_interval_start, run.data_interval_end)
        next_info = dag.timetable.next_dagrun_info(
            last_automated_data_interval=interval, restriction=restriction
        )
        if next_info is None:
            log.info("Last scheduled execution: allowing execution to proceed.")
            return True
        left, right = next_info.data_interval.start, next_info.data_interval.end
        now = self.now()
        log.info("Checking latest only with left_window: %s right_window: %s now: %s", left, right, now)
        if not left < now <= right:
            log.info("Not latest execution, skipping downstream.")
            return False
        log.info("Latest, allowing execution to proceed.")
        return True
