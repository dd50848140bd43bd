"""Property tests: intervals tile time, in every zone, across DST changes."""

from __future__ import annotations

import datetime as dt
import itertools

import pendulum
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pendulum import DateTime

from windvane.core.timetables import (
    CronDataIntervalTimetable,
    DataInterval,
    DeltaDataIntervalTimetable,
    Timetable,
    interval_for,
    iter_intervals,
    next_run_info,
)

ZONES = ["UTC", "Europe/Amsterdam", "America/New_York", "Australia/Sydney", "Asia/Kolkata"]
# DST changes of 2024-2025 in the zones above (UTC), so that many examples cross one.
TRANSITIONS = [
    dt.datetime(2024, 3, 10, 7),
    dt.datetime(2024, 3, 31, 1),
    dt.datetime(2024, 4, 6, 16),
    dt.datetime(2024, 10, 5, 16),
    dt.datetime(2024, 10, 27, 1),
    dt.datetime(2024, 11, 3, 6),
    dt.datetime(2025, 3, 9, 7),
    dt.datetime(2025, 3, 30, 1),
]

minutes = st.sampled_from(["0", "30", "45", "*/15", "*/20", "0,30", "10-40/10", "5"])
hours = st.sampled_from(["*", "0", "2", "3", "*/2", "*/6", "1-3", "2,14", "22-2", "9-17"])
doms = st.sampled_from(["*", "*", "1", "15", "1,15", "L", "*/10"])
months = st.sampled_from(["*", "*", "*", "*/3", "JAN-JUN"])
dows = st.sampled_from(["*", "*", "MON-FRI", "SAT,SUN", "1", "0"])
cron_expressions = st.tuples(minutes, hours, doms, months, dows).map(" ".join)
deltas = st.integers(min_value=5, max_value=3 * 24 * 60).map(lambda m: dt.timedelta(minutes=m)) | st.integers(
    min_value=1, max_value=86_400 * 2
).map(lambda s: dt.timedelta(seconds=s, microseconds=250))

near_transition = st.builds(
    lambda at, back: at - dt.timedelta(seconds=back),
    st.sampled_from(TRANSITIONS),
    st.integers(min_value=0, max_value=3 * 86_400),
)
anywhere = st.datetimes(min_value=dt.datetime(2020, 1, 1), max_value=dt.datetime(2030, 1, 1))


@st.composite
def start_dates(draw: st.DrawFn) -> DateTime:
    """An aware start date in one of ZONES (its zone is the DAG's zone)."""
    zone = pendulum.timezone(draw(st.sampled_from(ZONES)))
    utc_naive = draw(near_transition | anywhere)
    return pendulum.instance(utc_naive, tz="UTC").in_timezone(zone)


def timetables(start: DateTime) -> st.SearchStrategy[Timetable]:
    cron = cron_expressions.map(lambda e: CronDataIntervalTimetable(e, start.timezone or "UTC"))
    return cron | deltas.map(DeltaDataIntervalTimetable)


SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def chain(t: Timetable, start: DateTime, end: DateTime | None, count: int) -> list[DataInterval]:
    out: list[DataInterval] = []
    last = None
    for _ in range(count):
        info = next_run_info(t, start_date=start, end_date=end, catchup=True, last_interval=last, now=start)
        if info is None:
            break
        assert info.run_after == info.data_interval.end
        out.append(info.data_interval)
        last = info.data_interval
    return out


def assert_tiles(intervals: list[DataInterval]) -> None:
    for iv in intervals:
        assert iv.start < iv.end
        assert iv.start.timezone_name == iv.end.timezone_name == "UTC"
    for prev, nxt in itertools.pairwise(intervals):
        assert nxt.start == prev.end, (prev, nxt)


@SETTINGS
@given(data=st.data(), start=start_dates(), span_days=st.none() | st.integers(min_value=0, max_value=40))
def test_catchup_intervals_tile_time(data: st.DataObject, start: DateTime, span_days: int | None) -> None:
    t = data.draw(timetables(start), label="timetable")
    end = None if span_days is None else start.add(days=span_days, hours=data.draw(st.integers(0, 23)))
    intervals = chain(t, start, end, 25)
    if end is None:
        assert len(intervals) == 25
    assert_tiles(intervals)
    for iv in intervals:
        assert iv.start >= start
        if end is not None:
            assert iv.start <= end  # end_date bounds the logical date (Airflow)
    if intervals:
        # No boundary is skipped between the start date and the first run.
        before_first = t.infer_manual_data_interval(run_after=intervals[0].start)
        assert before_first.end == intervals[0].start
        assert before_first.start < start or isinstance(t, DeltaDataIntervalTimetable)
        # Backfilling the same range yields the same intervals.
        last = intervals[-1].start
        assert list(iter_intervals(t, start=start, end=last)) == intervals


@SETTINGS
@given(data=st.data(), start=start_dates())
def test_intervals_are_recovered_from_their_dates(data: st.DataObject, start: DateTime) -> None:
    t = data.draw(timetables(start), label="timetable")
    for iv in chain(t, start, None, 12):
        assert interval_for(t, iv.start, start) == iv
        assert t.infer_manual_data_interval(run_after=iv.end) == iv
        if isinstance(t, CronDataIntervalTimetable):
            inside = iv.end - (iv.end - iv.start) / 2
            assert t.infer_manual_data_interval(run_after=inside).end <= iv.start


@SETTINGS
@given(
    data=st.data(),
    start=start_dates(),
    later=st.integers(min_value=0, max_value=400 * 86_400),
)
def test_catchup_false_picks_the_latest_complete_interval(
    data: st.DataObject, start: DateTime, later: int
) -> None:
    t = data.draw(timetables(start), label="timetable")
    now = start.add(seconds=later)
    info = next_run_info(t, start_date=start, end_date=None, catchup=False, last_interval=None, now=now)
    assert info is not None
    first = chain(t, start, None, 1)[0]
    assert info.logical_date >= start
    if info.data_interval != first:
        assert info.run_after <= now  # skipped ahead: to an interval complete at `now` ...
    if info.run_after <= now:
        following = next_run_info(
            t, start_date=start, end_date=None, catchup=True, last_interval=info.data_interval, now=now
        )
        assert following is not None
        assert following.run_after > now  # ... and the latest such
    # The scheduler then continues without gaps.
    assert_tiles([info.data_interval, *chain_after(t, start, info.data_interval, now, 5)])


def chain_after(
    t: Timetable, start: DateTime, last: DataInterval, now: DateTime, count: int
) -> list[DataInterval]:
    out: list[DataInterval] = []
    for _ in range(count):
        info = next_run_info(t, start_date=start, end_date=None, catchup=False, last_interval=last, now=now)
        assert info is not None
        out.append(info.data_interval)
        last = info.data_interval
    return out


@SETTINGS
@given(start=start_dates(), delta=deltas)
def test_delta_steps_from_start_date(start: DateTime, delta: dt.timedelta) -> None:
    intervals = chain(DeltaDataIntervalTimetable(delta), start, None, 10)
    # Compare in UTC: PEP 495 makes == across zones False for a time in a repeated hour.
    start_utc = start.in_timezone("UTC")
    for i, iv in enumerate(intervals):
        assert iv.start == start_utc + delta * i
        assert iv.end - iv.start == delta
