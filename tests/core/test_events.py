"""Lifecycle events are frozen values that survive a trip through JSON unchanged."""

from __future__ import annotations

import dataclasses
import json
import typing
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from windvane.core.model.callback_runs import TASK_HOOKS, CallbackRun, CallbackStatus
from windvane.core.model.events import (
    EVENT_TYPES,
    LifecycleEvent,
    RunFinished,
    TryFinished,
    TryZombie,
)
from windvane.core.model.states import DagRunState, TaskInstanceState
from windvane.core.model.workload import TaskInstanceKey

T = datetime(2024, 3, 10, 12, 0, tzinfo=UTC)
KEY = TaskInstanceKey(7, 3, "etl", "manual__2024-03-10T12:00:00+00:00", "load")

_datetimes = st.datetimes(
    min_value=datetime(1970, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
)
_BY_TYPE: dict[Any, st.SearchStrategy[Any]] = {
    int: st.integers(),
    str: st.text(),
    bool: st.booleans(),
    datetime: _datetimes,
    TaskInstanceState: st.sampled_from(TaskInstanceState),
    DagRunState: st.sampled_from(DagRunState),
    TaskInstanceKey: st.builds(
        TaskInstanceKey,
        st.integers(),
        st.integers(),
        st.text(),
        st.text(),
        st.text(),
        st.integers(min_value=-1),
    ),
    tuple[CallbackRun, ...]: st.lists(
        st.builds(
            CallbackRun,
            st.sampled_from(TASK_HOOKS),
            st.sampled_from(CallbackStatus),
            st.floats(min_value=0, max_value=1e6, allow_nan=False),
        ),
        max_size=3,
    ).map(tuple),
}


def _strategy(kind: Any) -> st.SearchStrategy[Any]:
    args = typing.get_args(kind)
    if type(None) in args:
        (inner,) = set(args) - {type(None)}
        return st.none() | _BY_TYPE[inner]
    return _BY_TYPE[kind]


def _events(cls: type[LifecycleEvent]) -> st.SearchStrategy[LifecycleEvent]:
    hints = typing.get_type_hints(cls)
    fields = {f.name: _strategy(hints[f.name]) for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    return st.builds(cls, **fields)


any_event = st.one_of([_events(cls) for cls in EVENT_TYPES.values()])


@given(any_event)
def test_every_event_round_trips_through_json(event: LifecycleEvent) -> None:
    text = json.dumps(event.to_dict())
    back = LifecycleEvent.from_dict(json.loads(text))
    assert back == event
    assert type(back) is type(event)
    assert type(event).from_dict(json.loads(text)) == event


def test_the_dict_names_its_type_and_uses_plain_json_values() -> None:
    event = TryZombie(
        KEY,
        try_number=2,
        max_tries=3,
        pool="default_pool",
        operator="PythonOperator",
        state=TaskInstanceState.UP_FOR_RETRY,
        at=T,
        error="no heartbeat",
        next_retry_at=None,
    )
    assert event.to_dict() == {
        "event": "TryZombie",
        "key": {
            "ti_id": 7,
            "dag_run_id": 3,
            "dag_id": "etl",
            "run_id": "manual__2024-03-10T12:00:00+00:00",
            "task_id": "load",
            "map_index": -1,
        },
        "try_number": 2,
        "max_tries": 3,
        "pool": "default_pool",
        "operator": "PythonOperator",
        "state": "up_for_retry",
        "at": "2024-03-10T12:00:00+00:00",
        "error": "no heartbeat",
        "next_retry_at": None,
    }


def test_events_are_frozen_and_have_no_instance_dict() -> None:
    event = RunFinished("etl", "r", 3, "manual", T, DagRunState.SUCCESS, T, T.replace(minute=5))
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.state = DagRunState.FAILED  # type: ignore[misc]
    assert not hasattr(event, "__dict__")
    assert event.duration == 300.0


def test_try_duration_is_known_only_when_the_start_was_seen() -> None:
    def finished(started_at: datetime | None) -> TryFinished:
        return TryFinished(
            KEY, 1, 0, "p", "op", TaskInstanceState.SUCCESS, T, started_at, error=None, next_retry_at=None
        )

    assert finished(None).duration is None
    assert finished(T.replace(second=0, minute=0, hour=11)).duration == 3600.0


def test_reading_a_dict_of_another_type_or_no_type_fails() -> None:
    data = RunFinished("etl", "r", 3, "manual", T, DagRunState.FAILED, T, T).to_dict()
    with pytest.raises(ValueError, match="not a TryFinished event: 'RunFinished'"):
        TryFinished.from_dict(data)
    with pytest.raises(ValueError, match="not a LifecycleEvent event: 'Nope'"):
        LifecycleEvent.from_dict({**data, "event": "Nope"})


def test_a_try_carries_its_callbacks_and_a_dict_written_without_them_still_reads() -> None:
    ran = (CallbackRun("on_success_callback", CallbackStatus.TIMED_OUT, 60.0),)
    event = TryFinished(KEY, 1, 0, "p", "op", TaskInstanceState.SUCCESS, T, T, None, None, ran)
    data = event.to_dict()
    assert data["callbacks"] == [["on_success_callback", "timed_out", 60.0]]
    del data["callbacks"]  # as written before the field existed
    assert TryFinished.from_dict(data).callbacks == ()
