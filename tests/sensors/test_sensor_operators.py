"""Sensors in process (windvane.testing.run_dag / run_one_task): arguments, poke loop, timeouts,
soft_fail, exponential backoff, and the concrete sensors (file, Python, date-time, delta, @task.sensor)."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pendulum
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from windvane import DAG, task
from windvane.core.model.connection import Connection
from windvane.core.task_api import secrets
from windvane.errors import DagDefinitionError, TaskFailedNoRetry
from windvane.sensors import (
    BaseSensorOperator,
    DateTimeSensor,
    FileSensor,
    PokeReturnValue,
    PythonSensor,
    TimeDeltaSensor,
)
from windvane.testing.run import run_dag, run_one_task

START = pendulum.datetime(2024, 1, 1, tz="UTC")


def _dag(dag_id: str = "s") -> DAG:
    return DAG(dag_id, schedule=None, start_date=START)


class Countdown(BaseSensorOperator):
    """Done on the ``n``-th poke; records the intervals it was asked to sleep."""

    def __init__(self, *, n: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.n = n
        self.pokes = 0
        self.slept: list[float] = []

    def poke(self, context: dict[str, Any]) -> bool | PokeReturnValue:
        self.pokes += 1
        return PokeReturnValue(self.pokes >= self.n, xcom_value={"pokes": self.pokes})

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"mode": "wait"}, "mode"),
        ({"poke_interval": -1}, "poke_interval"),
        ({"timeout": "soon"}, "timeout"),
        ({"soft_fail": "yes"}, "soft_fail"),
        ({"exponential_backoff": 1}, "exponential_backoff"),
        ({"max_wait": float("inf")}, "max_wait"),
    ],
)
def test_bad_arguments_name_the_task_and_the_argument(kwargs: dict[str, Any], named: str) -> None:
    with _dag(), pytest.raises(DagDefinitionError, match=rf"task 'w' of DAG 's'.*{named}"):
        Countdown(task_id="w", n=1, **kwargs)


def test_reschedule_with_a_short_interval_is_allowed_as_in_airflow() -> None:
    with _dag():
        sensor = Countdown(task_id="w", n=1, mode="reschedule", poke_interval=5)
    assert sensor.reschedule and sensor.poke_interval == 5.0 and sensor.timeout == 7 * 24 * 3600


def test_poke_mode_loops_in_the_try_and_pushes_the_poke_value() -> None:
    with _dag() as dag:
        sensor = Countdown(task_id="w", n=3, poke_interval=timedelta(seconds=7))
    result = run_one_task(dag, "w")
    assert result.state == "success"
    outcome = result.tasks["w"]
    assert outcome.tries == 1 and outcome.xcoms["return_value"] == {"pokes": 3}
    assert sensor.slept == [7.0, 7.0]


def test_timeout_fails_without_retry_and_soft_fail_skips() -> None:
    with _dag() as dag:
        Countdown(task_id="hard", n=99, timeout=0, retries=3)
        Countdown(task_id="soft", n=99, timeout=0, soft_fail=True)
    result = run_dag(dag)
    hard, soft = result.tasks["hard"], result.tasks["soft"]
    assert hard.state == "failed" and hard.tries == 1
    assert hard.error is not None and "SensorTimeout" in hard.error and "timed out" in hard.error
    assert soft.state == "skipped"


def test_soft_fail_skips_on_an_error_in_poke() -> None:
    def broken() -> bool:
        raise RuntimeError("no such bucket")

    with _dag() as dag:
        PythonSensor(task_id="soft", python_callable=broken, soft_fail=True)
        PythonSensor(task_id="hard", python_callable=broken)
    result = run_dag(dag)
    assert result.tasks["soft"].state == "skipped" and result.tasks["hard"].state == "failed"


def test_exponential_backoff_grows_jittered_and_is_capped() -> None:
    with _dag():
        plain = Countdown(task_id="plain", n=1, poke_interval=10)
        grow = Countdown(task_id="grow", n=1, poke_interval=10, exponential_backoff=True, timeout=10_000)
        capped = Countdown(task_id="cap", n=1, poke_interval=10, exponential_backoff=True, max_wait=30)
    started = datetime(2024, 1, 1, tzinfo=UTC)
    assert [plain.next_poke_interval(started, 0, n) for n in (1, 5)] == [10, 10]
    waits = [grow.next_poke_interval(started, 0, n) for n in range(1, 8)]
    for n, wait in enumerate(waits, start=1):
        floor = max(int(10 * 2 ** (n - 2)), 1)
        assert floor <= wait < 2 * floor  # Airflow's formula: the floor plus a hash-based jitter
    assert waits == [grow.next_poke_interval(started, 0, n) for n in range(1, 8)]  # deterministic
    assert max(capped.next_poke_interval(started, 0, n) for n in range(1, 10)) <= 30
    assert grow.next_poke_interval(started, 9_990, 12) <= 10  # never past the timeout


def test_file_sensor_globs_files_and_folders(tmp_path: Path) -> None:
    (tmp_path / "in" / "deep").mkdir(parents=True)
    with _dag():
        flat = FileSensor(task_id="flat", filepath=str(tmp_path / "in" / "*.csv"))
        deep = FileSensor(task_id="deep", filepath=str(tmp_path / "in" / "**" / "*.csv"), recursive=True)
        folder = FileSensor(task_id="folder", filepath=str(tmp_path / "in"))
    context: dict[str, Any] = {}
    assert not flat.poke(context) and not deep.poke(context) and not folder.poke(context)
    (tmp_path / "in" / "deep" / "a.csv").write_text("x")
    assert not flat.poke(context)  # not recursive: in/*.csv only
    assert deep.poke(context) and folder.poke(context)  # a folder counts once it holds a file
    (tmp_path / "in" / "b.csv").write_text("x")
    assert flat.poke(context)


class _Connections:
    """A secrets resolver holding a few connections (``BaseHook.get_connection`` reads through it)."""

    def __init__(self, *connections: Connection) -> None:
        self.connections = {c.conn_id: c for c in connections}

    def get_connection(self, conn_id: str) -> Connection | None:
        return self.connections.get(conn_id)

    def get_variable(self, key: str) -> str | None:
        return None


def test_file_sensor_base_path_comes_from_the_connection(tmp_path: Path) -> None:
    (tmp_path / "ready.txt").write_text("")
    with _dag():
        sensor = FileSensor(task_id="f", filepath="ready.txt", fs_conn_id="landing")
        default = FileSensor(task_id="d", filepath=str(tmp_path / "ready.txt").lstrip("/"))
        missing = FileSensor(task_id="m", filepath="x", fs_conn_id="nope")
    assert default.poke({})  # no connections configured: fs_default is based at "/"
    landing = Connection("landing", conn_type="fs", extra=json.dumps({"path": str(tmp_path)}))
    secrets.install_resolver(_Connections(landing))
    try:
        assert sensor.poke({})
        assert default.poke({})  # configured, but without fs_default: still "/"
        with pytest.raises(TaskFailedNoRetry, match="connection 'nope' does not exist"):
            missing.poke({})
    finally:
        secrets.install_resolver(None)


def test_python_sensor_passes_arguments_and_context() -> None:
    seen: list[Any] = []

    def ready(limit: int, ds: str, templates_dict: dict[str, Any]) -> PokeReturnValue:
        seen.append((limit, ds, templates_dict))
        return PokeReturnValue(True, xcom_value=limit * 2)

    with _dag() as dag:
        PythonSensor(
            task_id="p", python_callable=ready, op_kwargs={"limit": 21}, templates_dict={"day": "{{ ds }}"}
        )
    result = run_one_task(dag, "p", logical_date=pendulum.datetime(2024, 5, 6, tz="UTC"))
    assert result.tasks["p"].xcoms["return_value"] == 42
    assert seen == [(21, "2024-05-06", {"day": "2024-05-06"})]


def test_date_time_sensor_renders_its_target() -> None:
    with _dag():
        sensor = DateTimeSensor(task_id="t", target_time="{{ data_interval_end }}")
    sensor.target_time = "2024-05-06T12:00:00+02:00"
    sensor.now = lambda: datetime(2024, 5, 6, 10, 0, 0, 1, tzinfo=UTC)  # type: ignore[method-assign]
    assert sensor.poke({})
    sensor.now = lambda: datetime(2024, 5, 6, 10, 0, tzinfo=UTC)  # type: ignore[method-assign]
    assert not sensor.poke({})
    with _dag(), pytest.raises(DagDefinitionError, match="target_time must be a str or a datetime"):
        DateTimeSensor(task_id="bad", target_time=3)


def test_date_time_sensor_end_to_end_templated() -> None:
    with _dag() as dag:
        DateTimeSensor(task_id="t", target_time="{{ macros.ds_add(ds, -1) }}")
    assert run_one_task(dag, "t").state == "success"


def test_time_delta_sensor_waits_past_the_interval_end() -> None:
    with _dag():
        sensor = TimeDeltaSensor(task_id="t", delta=timedelta(hours=1))
    end = datetime(2024, 5, 6, tzinfo=UTC)
    sensor.now = lambda: end + timedelta(minutes=59)  # type: ignore[method-assign]
    assert not sensor.poke({"data_interval_end": end})
    sensor.now = lambda: end + timedelta(minutes=61)  # type: ignore[method-assign]
    assert sensor.poke({"data_interval_end": end})


def test_task_sensor_decorator_in_reschedule_mode(tmp_path: Path) -> None:
    marker = tmp_path / "pokes"

    with _dag() as dag:

        @task.sensor(poke_interval=0.01, timeout=30, mode="reschedule")
        def arrived(target: str) -> PokeReturnValue:
            with open(marker, "a") as handle:
                handle.write("x")
            return PokeReturnValue(len(marker.read_text()) >= 3, xcom_value=target)

        @task
        def after(value: str) -> str:
            return value.upper()

        after(arrived("file.csv"))
    result = run_dag(dag)
    assert result.state == "success"
    assert result.tasks["arrived"].tries == 1 and result.tasks["arrived"].xcoms["return_value"] == "file.csv"
    assert result.tasks["after"].xcoms["return_value"] == "FILE.CSV"
    assert marker.read_text() == "xxx" and os.path.exists(marker)


@given(
    poke_interval=st.floats(min_value=0, max_value=86_400),
    timeout=st.floats(min_value=0, max_value=30 * 86_400),
    elapsed=st.floats(min_value=0, max_value=1.0),
    poke_count=st.integers(min_value=1, max_value=80),
    max_wait=st.one_of(st.none(), st.floats(min_value=0, max_value=86_400)),
)
@settings(max_examples=200, deadline=None)
def test_backoff_interval_is_never_negative_past_the_timeout_or_max_wait(
    poke_interval: float, timeout: float, elapsed: float, poke_count: int, max_wait: float | None
) -> None:
    with _dag():
        sensor = Countdown(
            task_id="w",
            n=1,
            poke_interval=poke_interval,
            timeout=timeout,
            exponential_backoff=True,
            max_wait=max_wait,
        )
    # Durations are kept to the microsecond (as timedeltas): compare with what the sensor holds.
    run_duration = elapsed * sensor.timeout
    wait = sensor.next_poke_interval(datetime(2024, 1, 1, tzinfo=UTC), run_duration, poke_count)
    assert 0 <= wait <= max(0.0, sensor.timeout - int(run_duration))
    if sensor.max_wait is not None:
        assert wait <= sensor.max_wait
