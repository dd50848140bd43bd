"""The timetable contract: data intervals, run infos, and the ``Timetable`` base class.

A DAG run covers the half-open *data interval* ``[start, end)``.  Its
``logical_date`` is the interval's start, and the scheduler creates it once
``run_after`` has passed, which for periodic schedules is the interval's end
(the data is complete only then).  Every datetime here is a pendulum
``DateTime`` in UTC: the dataclasses convert any aware ``datetime`` on the way
in and refuse naive ones.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

from pendulum import DateTime

from windvane.errors import ScheduleError

from ._time import ensure_utc, optional_utc


@dataclass(frozen=True)
class DataInterval:
    """The half-open span ``[start, end)`` of data a run processes; ``start <= end``.

    ``start == end`` is allowed: manual-only and ``@once`` runs cover a single
    instant (:meth:`exact`).
    """

    start: DateTime
    end: DateTime

    def __post_init__(self) -> None:
        start = ensure_utc(self.start, "data interval start")
        end = ensure_utc(self.end, "data interval end")
        if start > end:
            raise ScheduleError(f"data interval start {start.isoformat()} is after its end {end.isoformat()}")
        object.__setattr__(self, "start", start)
        object.__setattr__(self, "end", end)

    @classmethod
    def exact(cls, at: DateTime) -> DataInterval:
        """The empty interval ``[at, at)``, for runs that are not about a period of data."""
        return cls(start=at, end=at)


@dataclass(frozen=True)
class DagRunInfo:
    """What the scheduler needs to create one run: when, and over which data."""

    run_after: DateTime
    """The earliest time the run may be created; the scheduler waits until then."""
    data_interval: DataInterval

    def __post_init__(self) -> None:
        object.__setattr__(self, "run_after", ensure_utc(self.run_after, "run_after"))

    @property
    def logical_date(self) -> DateTime:
        """The run's logical date (Airflow's *execution date*): the data interval's start."""
        return self.data_interval.start

    @classmethod
    def interval(cls, start: DateTime, end: DateTime) -> DagRunInfo:
        """A run over ``[start, end)`` that becomes due at ``end``."""
        interval = DataInterval(start=start, end=end)
        return cls(run_after=interval.end, data_interval=interval)

    @classmethod
    def exact(cls, at: DateTime) -> DagRunInfo:
        """A run due at *at* whose data interval is the instant ``[at, at)``."""
        interval = DataInterval.exact(at)
        return cls(run_after=interval.start, data_interval=interval)


@dataclass(frozen=True)
class TimeRestriction:
    """Bounds the scheduler puts on automated runs of one DAG.

    ``earliest`` is the DAG's ``start_date`` (``None``: the DAG has none and is
    never scheduled automatically).  ``latest`` is its ``end_date``: no run may
    have a *logical date* after it (``None``: no end).  ``catchup`` says whether
    missed intervals between ``earliest`` and now are run.  ``now`` is the
    scheduler's current time; timetables must read the time from here, never
    from the wall clock, and need it at least when ``catchup`` is false.
    """

    earliest: DateTime | None
    latest: DateTime | None
    catchup: bool
    now: DateTime | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "earliest", optional_utc(self.earliest, "earliest (start_date)"))
        object.__setattr__(self, "latest", optional_utc(self.latest, "latest (end_date)"))
        object.__setattr__(self, "now", optional_utc(self.now, "now"))

    def require_now(self, timetable: Timetable) -> DateTime:
        """``now``, or a ScheduleError naming *timetable* if the caller left it out."""
        if self.now is None:
            raise ScheduleError(f"{timetable!r}: catchup=False needs TimeRestriction.now (the current time)")
        return self.now


class Timetable(ABC):
    """Decides when a DAG runs and which data interval each run covers.

    Subclass it to write your own schedule; implement at least
    :meth:`next_dagrun_info` and :meth:`infer_manual_data_interval`.

    Contract for implementations:

    * Pure: no database, environment or wall clock.  The current time arrives
      as ``restriction.now``.  The same arguments give the same answer.
    * Every datetime returned is an aware datetime (the dataclasses convert
      it to a UTC pendulum ``DateTime``).
    * Runs move forward: given the previous run's interval, the next run's
      logical date is strictly later, and ``None`` means "no more runs".
    * Respect the restriction: no logical date before ``restriction.earliest``
      (when set) or after ``restriction.latest`` (when set).
    * If the constructor takes arguments, override :meth:`serialize` and
      :meth:`deserialize` so that ``deserialize(t.serialize())`` rebuilds
      ``t``, and define the class at module level: it is stored by import path.
    """

    periodic: bool = True
    """True if runs repeat on a schedule (cron, timedelta); False for ``None``/``@once``."""

    can_be_scheduled: bool = True
    """False if the scheduler never creates runs automatically (manual-only DAGs)."""

    @property
    def summary(self) -> str:
        """A short human-readable form, e.g. ``"0 2 * * *"``, ``"@daily"`` or ``"1:00:00"``."""
        return type(self).__name__

    def validate(self) -> None:
        """Raise :class:`~windvane.errors.ScheduleError` if the timetable cannot work.

        Called when the DAG is loaded, so that a bad schedule fails there and
        not in the scheduler.  The default accepts everything.
        """
        return None

    @abstractmethod
    def next_dagrun_info(
        self,
        *,
        last_automated_data_interval: DataInterval | None,
        restriction: TimeRestriction,
    ) -> DagRunInfo | None:
        """The next run the scheduler should create, or ``None`` if there is none.

        ``last_automated_data_interval`` is the interval of the latest run the
        scheduler created (``None`` before the first); manual runs do not count.
        The returned run may lie in the future: the scheduler creates it once
        ``run_after`` has passed.  With ``restriction.catchup`` false, skip
        ahead so that the run is no older than the latest period complete at
        ``restriction.now``.
        """

    @abstractmethod
    def infer_manual_data_interval(self, *, run_after: DateTime) -> DataInterval:
        """The data interval of a run triggered by hand at *run_after*.

        Periodic timetables return the latest complete period ending at or
        before *run_after*; others return ``DataInterval.exact(run_after)``.
        """

    def serialize(self) -> dict[str, Any]:
        """The JSON-able arguments needed to rebuild this timetable (default: none)."""
        return {}

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> Timetable:
        """Rebuild a timetable from :meth:`serialize` output (default: ``cls()``)."""
        return cls()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.summary!r})"
