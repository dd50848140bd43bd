"""Branching on time: ``BranchDateTimeOperator`` (now, or the run's logical date, within a window)
and ``BranchDayOfWeekOperator`` (today's weekday among some), with Airflow 2's semantics. Each
follows ``follow_task_ids_if_true`` or ``follow_task_ids_if_false`` and skips the other direct
downstream tasks."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, time, timedelta
from typing import Any, ClassVar

import pendulum

from windvane.core.authoring import validation as v
from windvane.core.authoring.baseoperator import BaseOperator
from windvane.core.authoring.operators.skipmixin import SkipMixin
from windvane.core.authoring.per_instance import keep
from windvane.errors import DagDefinitionError

log = logging.getLogger("windvane.task")

WEEKDAYS = ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY")


def _ids(value: str | Iterable[str], name: str, owner: str) -> list[str]:
    return [value] if isinstance(value, str) else v.strings(value, name, owner)


class _TimeBranch(SkipMixin, BaseOperator):
    """What both share: the two branches, ``use_task_logical_date`` and the clock."""

    ui_color: ClassVar[str] = "#f0e4ec"
    use_task_logical_date: bool = False

    def __init__(
        self,
        *,
        follow_task_ids_if_true: str | Iterable[str],
        follow_task_ids_if_false: str | Iterable[str],
        use_task_logical_date: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.owner_name = v.owner_name(self.task_id, self.dag.dag_id if self.dag is not None else None)
        self.follow_task_ids_if_true = _ids(
            follow_task_ids_if_true, "follow_task_ids_if_true", self.owner_name
        )
        self.follow_task_ids_if_false = _ids(
            follow_task_ids_if_false, "follow_task_ids_if_false", self.owner_name
        )
        keep(
            self,
            "use_task_logical_date",
            v.flag(use_task_logical_date, "use_task_logical_date", self.owner_name),
        )

    def now(self) -> pendulum.DateTime:
        """The current time (UTC); tests replace it."""
        return pendulum.now("UTC")

    def moment(self, context: dict[str, Any]) -> pendulum.DateTime:
        """The time the condition is about: the run's logical date, or now; in the DAG's time zone."""
        when = context["logical_date"] if self.use_task_logical_date else self.now()
        tz = self.dag.timezone if self.dag is not None else "UTC"
        return pendulum.instance(when).in_timezone(tz)

    def condition(self, moment: pendulum.DateTime) -> bool:
        raise NotImplementedError

    def execute(self, context: dict[str, Any]) -> list[str]:
        moment = self.moment(context)
        branch = self.follow_task_ids_if_true if self.condition(moment) else self.follow_task_ids_if_false
        log.info("Branching at %s to %s", moment.isoformat(), branch)
        self.skip_all_except(context["ti"], branch)
        return branch


class BranchDateTimeOperator(_TimeBranch):
    """True when ``target_lower <= moment <= target_upper`` (either bound may be None, not both). A
    bound given as a ``time`` is taken on the moment's day (in the DAG's time zone, as a naive
    datetime is); an upper time before the lower one is on the next day, as in Airflow."""

    def __init__(
        self,
        *,
        target_lower: datetime | time | None,
        target_upper: datetime | time | None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if target_lower is None and target_upper is None:
            raise DagDefinitionError(f"{self.owner_name}: target_lower and target_upper cannot both be None")
        for name, bound in (("target_lower", target_lower), ("target_upper", target_upper)):
            if bound is not None and not isinstance(bound, datetime | time):
                raise DagDefinitionError(
                    f"{self.owner_name}: {name} must be a datetime or a time, got {bound!r}"
                )
        self.target_lower = target_lower
        self.target_upper = target_upper

    def condition(self, moment: pendulum.DateTime) -> bool:
        lower = _on(moment, self.target_lower)
        upper = _on(moment, self.target_upper)
        both_times = isinstance(self.target_lower, time) and isinstance(self.target_upper, time)
        if both_times and lower is not None and upper is not None and upper < lower:
            upper += timedelta(days=1)
        if upper is not None and upper < moment:
            return False
        return not (lower is not None and lower > moment)


def _on(moment: pendulum.DateTime, bound: datetime | time | None) -> datetime | None:
    """``bound`` as an aware datetime: a time on the moment's day, naive values in its time zone."""
    if bound is None:
        return None
    if isinstance(bound, time):
        bound = datetime.combine(moment.date(), bound)
    if bound.tzinfo is None:
        return pendulum.instance(bound, tz=moment.tz)
    return bound


class BranchDayOfWeekOperator(_TimeBranch):
    """True when the moment's weekday is in ``week_day``: a name (``"Monday"``), a set of names, or
    ``WeekDay``-like values (``0`` is Monday... ``6`` Sunday, or objects with a ``name``)."""

    def __init__(self, *, week_day: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.week_day = _weekdays(week_day, self.owner_name)

    def condition(self, moment: pendulum.DateTime) -> bool:
        return WEEKDAYS[moment.weekday()] in self.week_day


def _weekdays(value: Any, owner: str) -> frozenset[str]:
    items = [value] if isinstance(value, str | int) or hasattr(value, "name") else list(value)
    days: set[str] = set()
    for item in items:
        if isinstance(item, int) and not isinstance(item, bool) and 0 <= item <= 6:
            days.add(WEEKDAYS[item])
            continue
        name = str(getattr(item, "name", item)).upper()
        if name not in WEEKDAYS:
            names = ", ".join(d.title() for d in WEEKDAYS)
            raise DagDefinitionError(f"{owner}: week_day {item!r} is not a day of the week ({names})")
        days.add(name)
    if not days:
        raise DagDefinitionError(f"{owner}: week_day names no day")
    return frozenset(days)
