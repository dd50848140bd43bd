"""The stored form of a DAG stays byte for byte what it was, and validation computes the first run
once per set of inputs (both on every parse child's path: issue 15, B3)."""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta
from pathlib import Path

import pendulum
import pytest

from windvane.core.authoring.dag import DAG
from windvane.core.authoring.operators.bash import BashOperator
from windvane.core.authoring.operators.empty import EmptyOperator
from windvane.core.authoring.operators.python import PythonOperator
from windvane.core.authoring.serialize import serialize_dag
from windvane.core.authoring.taskgroup import TaskGroup
from windvane.core.model.serialized_dag import SerializedDag
from windvane.core.processor.parse_child import parse_file
from windvane.core.timetables import ops
from windvane.errors import DagDefinitionError

START = pendulum.datetime(2024, 1, 1, tz="UTC")
REPO = Path(__file__).resolve().parents[2]


def _old_json(sd: SerializedDag) -> str:
    """How ``to_json`` was written before it stopped deep-copying (``dataclasses.asdict``)."""
    return json.dumps(sd.to_dict(), sort_keys=True, separators=(",", ":"))


def _rich_dag() -> DAG:
    with DAG(
        "rich",
        schedule="*/15 * * * *",
        start_date=START,
        end_date=START.add(years=5),
        catchup=False,
        tags=["a", "b"],
        params={"n": 3, "when": START, "nested": {"xs": [1, 2.5, None, "é"]}},
        description="desc",
        doc_md="# doc",
        on_failure_callback=print,
        dagrun_timeout=timedelta(hours=1),
        default_args={"owner": "ann", "retries": 2, "email": ["a@example.com", "b@example.com"]},
    ) as dag:
        first = EmptyOperator(task_id="first", on_success_callback=print, sla=timedelta(minutes=5))
        call = PythonOperator(task_id="call", python_callable=print, execution_timeout=timedelta(seconds=9))
        with TaskGroup("group"):
            inner = BashOperator(task_id="inner", bash_command="true", queue="q", pool_slots=2)
        first >> [call, inner]
    return dag


def test_to_json_is_byte_for_byte_the_deep_copied_form() -> None:
    sd = serialize_dag(_rich_dag())
    assert sd.to_json() == _old_json(sd)
    assert SerializedDag.from_json(sd.to_json()) == sd


def test_to_json_of_every_sample_and_example_dag_is_unchanged() -> None:
    files = sorted((REPO / "examples").rglob("*.py")) + sorted((REPO / "tests" / "dag_samples").rglob("*.py"))
    texts = [text for path in files for text in parse_file(str(path)).dags]
    assert len(texts) >= 5
    for text in texts:
        sd = SerializedDag.from_json(text)
        assert sd.to_json() == _old_json(sd) == text


def test_to_json_falls_back_to_the_deep_copy_for_values_only_asdict_makes_plain() -> None:
    @dataclasses.dataclass
    class Window:
        hours: int

    sd = dataclasses.replace(serialize_dag(_rich_dag()), timetable={"__type": "x", "window": Window(3)})
    assert json.loads(sd.to_json())["timetable"] == {"__type": "x", "window": {"hours": 3}}


def test_to_dict_is_still_a_copy() -> None:
    sd = serialize_dag(_rich_dag())
    data = sd.to_dict()
    data["params"]["n"] = 99
    data["timetable"].clear()
    assert sd.params["n"] == 3 and sd.timetable


def _counting(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    real = ops.next_run_info

    def counted(*args: object, **kwargs: object) -> object:
        calls.append(1)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(ops, "next_run_info", counted)
    return calls


def test_validating_an_unchanged_dag_again_does_not_compute_its_first_run_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = _counting(monkeypatch)
    with DAG("d", schedule="@daily", start_date=START) as dag:
        EmptyOperator(task_id="t")
    assert len(calls) == 1  # leaving the with block validates
    dag.validate()  # as the DAG processor does before serializing
    assert len(calls) == 1


def test_changing_what_the_first_run_depends_on_computes_it_again(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _counting(monkeypatch)
    with DAG("d", schedule=timedelta(days=1), start_date=START) as dag:
        EmptyOperator(task_id="t")
    dag.catchup = not dag.catchup
    dag.validate()
    dag.start_date = START.add(days=1)
    dag.validate()
    assert len(calls) == 3


def test_a_schedule_broken_after_the_with_block_is_still_caught() -> None:
    with DAG("late", schedule="@daily", start_date=START) as dag:
        EmptyOperator(task_id="t")
    dag.timetable = DAG("other", schedule=timedelta(days=3_000_000), start_date=START).timetable
    with pytest.raises(DagDefinitionError, match="next run cannot be computed"):
        dag.validate()
