"""Cron schedules across DST changes: the wall clock in the zone, results in UTC.

Rules under test (see the ``cron`` module docstring): fixed-hour schedules fire
a skipped local time shifted forward by the gap and a repeated local time in its
second occurrence; every-hour schedules follow elapsed time.
"""

from __future__ import annotations

import datetime as dt

import pendulum
import pytest
from croniter import croniter

from windvane.core.timetables import CronDataIntervalTimetable, DeltaDataIntervalTimetable, iter_intervals
from windvane.core.timetables._cron_spec import parse_cron

from ._helpers import AMS, NYC, SYD, chain, utc

H = dt.timedelta(hours=1)


def starts_and_lengths(
    expression: str, tz: pendulum.Timezone, start: pendulum.DateTime, count: int
) -> list[tuple[pendulum.DateTime, dt.timedelta]]:
    t = CronDataIntervalTimetable(expression, tz)
    return [(i.start, i.end - i.start) for i in chain(t, start, count)]


class TestAmsterdamDaily0200:
    def test_march_spring_forward(self) -> None:
        got = starts_and_lengths("0 2 * * *", AMS, pendulum.datetime(2024, 3, 29, tz=AMS), 4)
        assert got == [
            (utc(2024, 3, 29, 1), 24 * H),  # 02:00 CET
            (utc(2024, 3, 30, 1), 24 * H),  # 02:00 CET
            (utc(2024, 3, 31, 1), 23 * H),  # 02:00 does not exist: 03:00 CEST
            (utc(2024, 4, 1, 0), 24 * H),  # 02:00 CEST
        ]

    def test_october_fall_back(self) -> None:
        got = starts_and_lengths("0 2 * * *", AMS, pendulum.datetime(2024, 10, 25, tz=AMS), 4)
        assert got == [
            (utc(2024, 10, 25, 0), 24 * H),  # 02:00 CEST
            (utc(2024, 10, 26, 0), 25 * H),  # 02:00 CEST
            (utc(2024, 10, 27, 1), 24 * H),  # 02:00 happens twice: the second one, CET
            (utc(2024, 10, 28, 1), 24 * H),  # 02:00 CET
        ]

    def test_local_time_stays_0200(self) -> None:
        t = CronDataIntervalTimetable("0 2 * * *", AMS)
        intervals = list(
            iter_intervals(
                t, start=pendulum.datetime(2024, 1, 1, tz=AMS), end=pendulum.datetime(2024, 12, 31, tz=AMS)
            )
        )
        assert len(intervals) == 365  # 2024-01-01 02:00 .. 2024-12-30 02:00
        local = [i.start.in_timezone(AMS) for i in intervals]
        assert {(d.hour, d.minute) for d in local if d.date() != dt.date(2024, 3, 31)} == {(2, 0)}
        assert [d for d in local if d.hour != 2] == [pendulum.datetime(2024, 3, 31, 3, tz=AMS)]


class TestNewYork:
    def test_midnight_is_0400_or_0500_utc(self) -> None:
        # Airflow's documented example: 0 0 * * * in US/Eastern.
        t = CronDataIntervalTimetable("0 0 * * *", NYC)
        july = chain(t, pendulum.datetime(2024, 7, 1, tz=NYC), 1)[0]
        january = chain(t, pendulum.datetime(2024, 1, 1, tz=NYC), 1)[0]
        assert july.start == utc(2024, 7, 1, 4)
        assert january.start == utc(2024, 1, 1, 5)

    def test_spring_forward_skipped_0230(self) -> None:
        got = starts_and_lengths("30 2 * * *", NYC, pendulum.datetime(2024, 3, 9, tz=NYC), 3)
        assert got == [
            (utc(2024, 3, 9, 7, 30), 24 * H),  # 02:30 EST
            (utc(2024, 3, 10, 7, 30), 23 * H),  # no 02:30: 03:30 EDT
            (utc(2024, 3, 11, 6, 30), 24 * H),  # 02:30 EDT
        ]

    def test_fall_back_repeated_0130(self) -> None:
        got = starts_and_lengths("30 1 * * *", NYC, pendulum.datetime(2024, 11, 2, tz=NYC), 3)
        assert got == [
            (utc(2024, 11, 2, 5, 30), 25 * H),  # 01:30 EDT
            (utc(2024, 11, 3, 6, 30), 24 * H),  # 01:30 twice: the second, EST
            (utc(2024, 11, 4, 6, 30), 24 * H),
        ]


class TestSydney:
    def test_april_fall_back(self) -> None:
        got = starts_and_lengths("0 2 * * *", SYD, pendulum.datetime(2024, 4, 6, tz=SYD), 3)
        assert got == [
            (utc(2024, 4, 5, 15), 25 * H),  # 02:00 AEDT
            (utc(2024, 4, 6, 16), 24 * H),  # 02:00 twice: the second, AEST
            (utc(2024, 4, 7, 16), 24 * H),
        ]

    def test_october_spring_forward(self) -> None:
        got = starts_and_lengths("0 2 * * *", SYD, pendulum.datetime(2024, 10, 5, tz=SYD), 3)
        assert got == [
            (utc(2024, 10, 4, 16), 24 * H),  # 02:00 AEST
            (utc(2024, 10, 5, 16), 23 * H),  # no 02:00: 03:00 AEDT
            (utc(2024, 10, 6, 15), 24 * H),  # 02:00 AEDT
        ]


class TestEveryHourSchedules:
    def test_repeated_hour_runs_twice(self) -> None:
        got = starts_and_lengths("30 * * * *", AMS, pendulum.datetime(2024, 10, 27, 1, tz=AMS), 4)
        assert got == [
            (utc(2024, 10, 26, 23, 30), H),  # 01:30 CEST
            (utc(2024, 10, 27, 0, 30), H),  # 02:30 CEST
            (utc(2024, 10, 27, 1, 30), H),  # 02:30 CET
            (utc(2024, 10, 27, 2, 30), H),  # 03:30 CET
        ]

    def test_skipped_hour_is_skipped(self) -> None:
        got = starts_and_lengths("30 * * * *", AMS, pendulum.datetime(2024, 3, 31, 1, tz=AMS), 3)
        assert got == [
            (utc(2024, 3, 31, 0, 30), H),  # 01:30 CET
            (utc(2024, 3, 31, 1, 30), H),  # 03:30 CEST
            (utc(2024, 3, 31, 2, 30), H),
        ]

    def test_every_two_hours_is_fixed_hour(self) -> None:
        got = starts_and_lengths("0 */2 * * *", AMS, pendulum.datetime(2024, 10, 27, tz=AMS), 3)
        assert got == [
            (utc(2024, 10, 26, 22), 3 * H),  # 00:00 CEST
            (utc(2024, 10, 27, 1), 2 * H),  # 02:00 CET (second occurrence)
            (utc(2024, 10, 27, 3), 2 * H),  # 04:00 CET
        ]


def test_timedelta_ignores_dst() -> None:
    t = DeltaDataIntervalTimetable(dt.timedelta(days=1))
    starts = [i.start for i in chain(t, pendulum.datetime(2024, 3, 30, 2, tz=AMS), 3)]
    assert starts == [utc(2024, 3, 30, 1), utc(2024, 3, 31, 1), utc(2024, 4, 1, 1)]
    assert starts[-1].in_timezone(AMS).hour == 3


# -- brute force: compare with fire times found minute by minute ------------------------------------


def _oracle(expression: str, tz: pendulum.Timezone, lo: dt.datetime, hi: dt.datetime) -> list[dt.datetime]:
    """Fire instants (naive UTC) in [lo, hi), found by walking every UTC minute."""
    spec = parse_cron(expression)
    every_hour = spec.covers_every_hour
    fields = [set(f) for f in croniter(spec.expression).expanded]
    assert fields[2:] == [{"*"}, {"*"}, {"*"}], "the oracle only knows minute and hour fields"
    minutes = set(range(60)) if fields[0] == {"*"} else fields[0]
    hours = set(range(24)) if fields[1] == {"*"} else fields[1]

    def match(wall: dt.datetime) -> bool:
        return wall.minute in minutes and wall.hour in hours

    fires: set[dt.datetime] = set()
    t = lo
    while t < hi:
        aware = t.replace(tzinfo=dt.UTC)
        local = aware.astimezone(tz)
        wall = local.replace(tzinfo=None, fold=0)
        if match(wall):
            repeated = tz.utcoffset(wall) != tz.utcoffset(wall.replace(fold=1))
            if every_hour or not repeated or local.fold == 1:
                fires.add(t)
        before = (aware - dt.timedelta(minutes=1)).astimezone(tz).utcoffset()
        after = local.utcoffset()
        assert before is not None and after is not None
        if not every_hour and after > before:  # clocks jumped forward at t
            skipped = (t + before).replace(second=0)
            while skipped < t + after:
                if match(skipped):
                    fires.add(skipped - before)
                skipped += dt.timedelta(minutes=1)
        t += dt.timedelta(minutes=1)
    return sorted(fires)


TRANSITIONS = [
    (AMS, dt.datetime(2024, 3, 31, 1)),
    (AMS, dt.datetime(2024, 10, 27, 1)),
    (NYC, dt.datetime(2024, 3, 10, 7)),
    (NYC, dt.datetime(2024, 11, 3, 6)),
    (SYD, dt.datetime(2024, 4, 6, 16)),
    (SYD, dt.datetime(2024, 10, 5, 16)),
    (pendulum.timezone("Australia/Lord_Howe"), dt.datetime(2024, 4, 6, 15)),  # 30-minute shift
]


@pytest.mark.parametrize(("tz", "at"), TRANSITIONS, ids=lambda v: str(v))
@pytest.mark.parametrize(
    "expression",
    ["0 2 * * *", "30 1,2,3 * * *", "0,30 2-3 * * *", "0 */2 * * *", "20 * * * *", "*/30 * * * *"],
)
def test_matches_minute_by_minute_oracle(tz: pendulum.Timezone, at: dt.datetime, expression: str) -> None:
    lo, hi = at - dt.timedelta(hours=30), at + dt.timedelta(hours=30)
    expected = _oracle(expression, tz, lo, hi)
    assert len(expected) >= 2
    t = CronDataIntervalTimetable(expression, tz)
    got = [
        i.start
        for i in iter_intervals(t, start=pendulum.instance(lo, tz="UTC"), end=pendulum.instance(hi, tz="UTC"))
        if i.start < pendulum.instance(hi, tz="UTC")
    ]
    assert [g.naive() for g in got] == expected
