"""Sensors that wait for a time: ``DateTimeSensor`` (a templated date and time) and
``TimeDeltaSensor`` (a delta after the run's data interval end), Airflow's semantics."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any, ClassVar

import pendulum

from windvane.core.authoring import validation as v
from windvane.core.authoring.sensors.base import BaseSensorOperator
from windvane.errors import DagDefinitionError, TaskFailedNoRetry

log = logging.getLogger("windvane.task")


class DateTimeSensor(BaseSensorOperator):
    """Wait until ``target_time`` (a datetime, or a templated string such as
    ``"{{ data_interval_end.add(hours=1) }}"``; naive times are UTC) has passed."""

    template_fields: ClassVar[tuple[str, ...]] = ("target_time",)

    def __init__(self, *, target_time: object, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if isinstance(target_time, datetime):
            self.target_time = target_time.isoformat()
        elif isinstance(target_time, str):
            self.target_time = target_time
        else:
            owner = v.owner_name(self.task_id, self.dag.dag_id if self.dag is not None else None)
            raise DagDefinitionError(
                f"{owner}: target_time must be a str or a datetime, not {type(target_time).__name__}"
            )

    def target(self) -> datetime:
        """The (rendered) ``target_time`` as an aware datetime."""
        try:
            parsed: object = pendulum.parse(self.target_time, tz="UTC")
        except (ValueError, TypeError) as exc:
            raise TaskFailedNoRetry(
                f"DateTimeSensor {self.task_id!r}: target_time {self.target_time!r} is not a date and time"
            ) from exc
        if not isinstance(parsed, datetime):
            raise TaskFailedNoRetry(
                f"DateTimeSensor {self.task_id!r}: target_time {self.target_time!r} is not a date and time"
            )
        return parsed

    def poke(self, context: dict[str, Any]) -> bool:
        log.info("Checking if the time (%s) has come", self.target_time)
        return self.now() > self.target()


class TimeDeltaSensor(BaseSensorOperator):
    """Wait until ``delta`` after the run's ``data_interval_end``."""

    def __init__(self, *, delta: object, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        owner = v.owner_name(self.task_id, self.dag.dag_id if self.dag is not None else None)
        if not isinstance(delta, timedelta):
            raise DagDefinitionError(f"{owner}: delta must be a timedelta, not {type(delta).__name__}")
        self.delta = delta

    def poke(self, context: dict[str, Any]) -> bool:
        target = context["data_interval_end"] + self.delta
        log.info("Checking if the time (%s) has come", target)
        return bool(self.now() > target)
