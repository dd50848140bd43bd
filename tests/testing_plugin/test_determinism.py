"""Determinism: fresh sandboxes, clock pinned, random seeded; each kind of leak is named."""

from __future__ import annotations

import datetime as dt
import random
import time
import uuid
from pathlib import Path

import pytest

from windvane import DAG, task
from windvane.testing.database import SqliteTemplate
from windvane.testing.determinism import check_deterministic
from windvane.testing.effects import Watch
from windvane.testing.errors import NotDeterministicError

from .dags import DAY, START, partitions_dag


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> SqliteTemplate:
    return SqliteTemplate(tmp_path_factory.mktemp("template"))


def test_clock_randomness_and_uuids_leaking_are_each_reported(template: SqliteTemplate) -> None:
    with DAG("leaky", start_date=START) as dag:

        @task
        def stamp() -> str:
            return dt.datetime.now().isoformat()

        @task
        def dice() -> int:
            return random.randint(1, 10**9)

        @task
        def ident() -> str:
            return str(uuid.uuid4())

        @task
        def pure(ds: str) -> str:
            return ds

        stamp(), dice(), ident(), pure()

    with pytest.raises(NotDeterministicError) as raised:
        check_deterministic(dag, DAY, template=template)
    message = str(raised.value)
    assert message.startswith("DAG 'leaky' is not deterministic for logical date 2024-03-04T00:00:00+00:00")
    assert (
        "wall-clock time leaks into outputs (the clock was moved):\n"
        '    XCom stamp.return_value: reference run "2024-03-04T00:00:00", '
        'probe run "2024-03-05T01:01:01.001001"'
    ) in message
    assert (
        "randomness leaks into outputs (random was seeded differently):\n    XCom dice.return_value"
        in message
    )
    assert (
        "uuids leak into outputs (uuid1/uuid4 returned other values):\n    XCom ident.return_value" in message
    )
    assert "pure" not in message and "unpinned" not in message


def test_an_unpinned_source_shows_as_identical_runs_differing(template: SqliteTemplate) -> None:
    with DAG("unpinned", start_date=START) as dag:

        @task
        def elapsed() -> int:
            return time.perf_counter_ns()  # not a wall clock: time-machine leaves it alone

        elapsed()
    leaks = check_deterministic(dag, DAY, template=template, raise_on_leak=False)
    assert next(iter(leaks)).startswith("something unpinned")


def test_the_partitions_example_is_deterministic_with_its_warehouse_in_each_sandbox(
    template: SqliteTemplate,
) -> None:
    watch = Watch({"{sandbox}/wh.db": Path("{sandbox}/none")}, "sqlite:///{sandbox}/wh.db", ("daily_sales",))
    leaks = check_deterministic(
        partitions_dag(), DAY, watch=watch, conf={"warehouse": "{sandbox}/wh.db"}, template=template
    )
    assert leaks == {}
