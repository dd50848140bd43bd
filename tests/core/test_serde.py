from __future__ import annotations

import dataclasses
import enum
import json
import math
from collections import OrderedDict
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pendulum
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from windvane.core.model.json_values import TYPE_KEY, deserialize, from_jsonable, serialize, to_jsonable
from windvane.errors import SerializationError

ZONES = ["UTC", "Europe/Paris", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe"]


def roundtrip(value: Any) -> Any:
    return deserialize(serialize(value))


def assert_same_tz(a: tzinfo | None, b: tzinfo | None) -> None:
    assert type(a) is type(b)
    if isinstance(a, pendulum.FixedTimezone):
        assert isinstance(b, pendulum.FixedTimezone)
        assert (a.offset, a.name) == (b.offset, b.name)
    elif isinstance(a, ZoneInfo):
        assert isinstance(b, ZoneInfo)
        assert a.key == b.key
    elif a is not None:
        assert b is not None
        assert (a.utcoffset(None), a.tzname(None)) == (b.utcoffset(None), b.tzname(None))


def assert_same(a: Any, b: Any) -> None:
    """Equal in type and value, stricter than ``==`` (tz, fold, NaN, -0.0, Decimal exponent)."""
    assert type(a) is type(b), (a, b)
    if isinstance(a, dict):
        assert list(a) == list(b)
        for key in a:
            assert_same(a[key], b[key])
    elif isinstance(a, list):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            assert_same(x, y)
    elif isinstance(a, float):
        assert (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))
    elif isinstance(a, Decimal):
        assert a.as_tuple() == b.as_tuple()
    elif isinstance(a, datetime | time):
        assert a.replace(tzinfo=None) == b.replace(tzinfo=None)
        assert a.fold == b.fold
        assert_same_tz(a.tzinfo, b.tzinfo)
    elif isinstance(a, pendulum.Duration):
        attrs = ("years", "months", "weeks", "remaining_days", "hours", "minutes", "remaining_seconds")
        assert [getattr(a, n) for n in attrs] == [getattr(b, n) for n in attrs]
        assert a == b
    else:
        assert a == b


# -- examples ---------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        None,
        True,
        0,
        -(10**30),
        1.5,
        -0.0,
        "",
        "naïve ☃ \x00 \ud800",
        [1, "a", None],
        {"a": {"b": [1, {"c": None}]}},
        {},
        [],
    ],
)
def test_plain_json_values_round_trip(value: Any) -> None:
    assert_same(roundtrip(value), value)


def test_plain_values_are_written_as_plain_compact_ascii_json() -> None:
    text = serialize({"a": [1, 2.5, "é"], "b": None})
    assert text == '{"a":[1,2.5,"\\u00e9"],"b":null}'
    assert text.isascii()


@pytest.mark.parametrize(
    "value",
    [
        datetime(2024, 1, 1, 12, 30, 5, 123456),
        datetime(2024, 1, 1, tzinfo=UTC),
        datetime(2024, 1, 1, tzinfo=timezone(timedelta(hours=-3), "BRT")),
        datetime(2024, 11, 3, 1, 30, tzinfo=ZoneInfo("America/New_York"), fold=1),
        datetime(2024, 1, 1, tzinfo=pendulum.timezone("Europe/Paris")),
        pendulum.datetime(2024, 7, 1, 8, tz="Europe/Paris"),
        pendulum.datetime(2024, 7, 1, 8, tz=pendulum.FixedTimezone(19800)),
        pendulum.naive(2024, 7, 1, 8),
        date(2024, 2, 29),
        pendulum.date(2024, 2, 29),
        time(23, 59, 59, 999999),
        time(8, 0, tzinfo=UTC),
        pendulum.time(8, 0, 1),
        timedelta(days=-1, microseconds=1),
        timedelta.max,
        pendulum.duration(years=1, months=2, weeks=3, days=4, hours=5, microseconds=6),
        pendulum.duration(seconds=-90),
        Decimal("0.10"),
        Decimal("-0"),
        Decimal("1E+3"),
        Decimal("NaN"),
        Decimal("-Infinity"),
        float("nan"),
        float("inf"),
        float("-inf"),
    ],
    ids=repr,
)
def test_rich_values_round_trip_exactly(value: Any) -> None:
    assert_same(roundtrip(value), value)
    assert_same(roundtrip({"nested": [value]}), {"nested": [value]})


def test_pendulum_datetime_keeps_its_timezone_name() -> None:
    value = pendulum.datetime(2024, 1, 1, tz="Asia/Kolkata")
    text = serialize(value)
    tz = {"pendulum": "Asia/Kolkata"}
    assert json.loads(text) == {TYPE_KEY: "pendulum.datetime", "v": "2024-01-01T00:00:00+05:30", "tz": tz}
    back = deserialize(text)
    assert isinstance(back, pendulum.DateTime)
    assert back.timezone_name == "Asia/Kolkata"


def test_output_is_strict_json_even_for_nan() -> None:
    def reject(constant: str) -> Any:
        raise AssertionError(constant)

    json.loads(serialize([math.nan, math.inf, -math.inf]), parse_constant=reject)


def test_decimal_is_stored_exactly_as_a_string() -> None:
    assert json.loads(serialize(Decimal("3.14159265358979323846264338327950288"))) == {
        TYPE_KEY: "decimal",
        "v": "3.14159265358979323846264338327950288",
    }


def test_user_dict_with_the_tag_key_round_trips() -> None:
    value = {TYPE_KEY: "datetime", "v": "2024-01-01", "inner": {TYPE_KEY: "dict"}}
    assert_same(roundtrip(value), value)


def test_lossy_but_documented_conversions() -> None:
    class Color(enum.StrEnum):
        RED = "red"

    class Level(enum.IntEnum):
        HIGH = 3

    assert_same(roundtrip((1, (2, 3))), [1, [2, 3]])
    assert_same(roundtrip({Color.RED: Color.RED, "n": Level.HIGH}), {"red": "red", "n": 3})
    assert_same(roundtrip(OrderedDict(a=1)), {"a": 1})


def test_to_jsonable_and_from_jsonable_work_on_objects() -> None:
    obj = to_jsonable({"when": date(2024, 1, 2)})
    assert obj == {"when": {TYPE_KEY: "date", "v": "2024-01-02"}}
    assert from_jsonable(obj) == {"when": date(2024, 1, 2)}


# -- errors -------------------------------------------------------------------


def test_unsupported_value_names_type_and_path() -> None:
    with pytest.raises(
        SerializationError, match=r"cannot store value of type 'set' at \['rows'\]\[2\] as JSON"
    ):
        serialize({"rows": [1, 2, {3}]})


def test_context_prefixes_the_message() -> None:
    with pytest.raises(SerializationError) as info:
        serialize(b"raw", context="task 'extract' in DAG 'etl' returned a value")
    assert str(info.value) == (
        "task 'extract' in DAG 'etl' returned a value: cannot store value of type 'bytes' as JSON; "
        "decode it to str or base64-encode it"
    )


def test_unsupported_objects_name_their_module() -> None:
    @dataclasses.dataclass
    class Row:
        x: int

    with pytest.raises(SerializationError, match=r"type 'tests\.core\.test_serde\..*Row' at \[0\].*asdict"):
        serialize([Row(1)])


def test_non_str_dict_key_is_rejected() -> None:
    with pytest.raises(SerializationError, match=r"dict key 1 of type 'int' at \['a'\] .*keys must be str"):
        serialize({"a": {1: "x"}})


def test_circular_reference_is_rejected() -> None:
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(SerializationError, match=r"at \['a'\]\[0\] as JSON: it contains itself"):
        serialize({"a": loop})


def test_shared_but_acyclic_references_are_fine() -> None:
    shared = [1]
    assert roundtrip([shared, shared]) == [[1], [1]]


def test_unknown_tzinfo_is_rejected() -> None:
    class Odd(tzinfo):
        def utcoffset(self, dt: datetime | None) -> timedelta:
            return timedelta(0)

        def dst(self, dt: datetime | None) -> timedelta:
            return timedelta(0)

        def tzname(self, dt: datetime | None) -> str:
            return "odd"

    with pytest.raises(SerializationError, match=r"datetime with tzinfo of type '.*Odd' at \['t'\]"):
        serialize({"t": datetime(2024, 1, 1, tzinfo=Odd())})


def test_deeply_nested_value_fails_cleanly() -> None:
    value: Any = []
    for _ in range(100_000):
        value = [value]
    with pytest.raises(SerializationError, match="nested too deeply"):
        serialize(value)


def test_invalid_text_is_a_serialization_error() -> None:
    with pytest.raises(SerializationError, match="xcom 'x': stored text is not valid JSON"):
        deserialize("{nope", context="xcom 'x'")


def test_unknown_or_malformed_tag_names_the_path() -> None:
    with pytest.raises(SerializationError, match=r"tagged 'bogus' at \['a'\]"):
        deserialize('{"a": {"__wv_type": "bogus", "v": 1}}')
    with pytest.raises(SerializationError, match=r"tagged 'datetime' at \[0\]"):
        deserialize('[{"__wv_type": "datetime", "v": "not a date"}]')


# -- property -----------------------------------------------------------------

fixed_offsets = st.integers(-14 * 3600, 14 * 3600)
stdlib_tz = st.one_of(
    st.sampled_from(ZONES).map(ZoneInfo),
    fixed_offsets.map(lambda s: timezone(timedelta(seconds=s))),
    st.tuples(fixed_offsets, st.text(min_size=1, max_size=5)).map(
        lambda t: timezone(timedelta(seconds=t[0]), t[1])
    ),
)
pendulum_tz = st.one_of(
    st.sampled_from(ZONES).map(pendulum.timezone),
    fixed_offsets.map(pendulum.FixedTimezone),
)
any_tz = st.none() | stdlib_tz | pendulum_tz


def as_pendulum_datetime(d: datetime) -> pendulum.DateTime:
    fields = (d.year, d.month, d.day, d.hour, d.minute, d.second, d.microsecond)
    return pendulum.DateTime(*fields, tzinfo=d.tzinfo, fold=d.fold)


datetimes = st.datetimes(timezones=any_tz)
times = st.times(timezones=any_tz)
timedeltas = st.timedeltas(min_value=timedelta(days=-(10**8)), max_value=timedelta(days=10**8))
durations = st.builds(
    lambda td, years, months: pendulum.Duration(
        days=td.days, seconds=td.seconds, microseconds=td.microseconds, years=years, months=months
    ),
    timedeltas,
    st.integers(-1000, 1000),
    st.integers(-1000, 1000),
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(),
    st.decimals(),
    datetimes,
    datetimes.map(as_pendulum_datetime),
    st.dates(),
    st.dates().map(lambda d: pendulum.Date(d.year, d.month, d.day)),
    times,
    times.map(
        lambda t: pendulum.Time(t.hour, t.minute, t.second, t.microsecond, tzinfo=t.tzinfo, fold=t.fold)
    ),
    timedeltas,
    durations,
)
keys = st.text() | st.sampled_from([TYPE_KEY, "v", "tz"])
values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(keys, children, max_size=5),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None)
@given(values)
def test_every_supported_value_round_trips_exactly(value: Any) -> None:
    assert_same(roundtrip(value), value)
