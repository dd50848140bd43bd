"""Porting hints: a misspelled operator argument names the argument it was probably meant to be."""

from __future__ import annotations

import pytest

from windvane import DAG, BashOperator, PythonOperator
from windvane.core.authoring.baseoperator import BaseOperator
from windvane.errors import DagDefinitionError, InvalidArgumentError


def test_misspelled_required_argument_names_the_typo_and_the_task() -> None:
    with DAG("hints", schedule=None), pytest.raises(InvalidArgumentError) as caught:
        BashOperator(task_id="load", bash_comand="echo hi")  # type: ignore[call-arg]
    assert isinstance(caught.value, DagDefinitionError)
    assert str(caught.value) == (
        "BashOperator (task_id: 'load') is missing its required argument 'bash_command'; "
        "did you mean bash_command= instead of bash_comand=?"
    )


def test_misspelled_task_id_is_named_with_the_value_given() -> None:
    expected = "task_id= instead of taks_id="
    with DAG("hints", schedule=None), pytest.raises(InvalidArgumentError, match=expected):
        PythonOperator(taks_id="p", python_callable=print)  # type: ignore[call-arg]


def test_missing_required_argument_without_a_lookalike_still_names_the_task() -> None:
    with DAG("hints", schedule=None), pytest.raises(InvalidArgumentError) as caught:
        PythonOperator(task_id="p")  # type: ignore[call-arg]
    expected = "PythonOperator (task_id: 'p') is missing its required argument 'python_callable'"
    assert str(caught.value) == expected


def test_misspelled_optional_argument_suggests_the_accepted_one() -> None:
    with DAG("hints", schedule=None), pytest.raises(InvalidArgumentError) as caught:
        BashOperator(task_id="t", bash_command="true", retires=3, zzz=1)  # type: ignore[call-arg]
    message = str(caught.value)
    assert "retires=3 (did you mean 'retries'?)" in message
    assert "zzz=1," not in message and message.endswith("zzz=1")  # nothing alike: no guess


def test_a_subclass_supplying_a_required_argument_itself_is_not_second_guessed() -> None:
    class Greet(BashOperator):
        def __init__(self, *, who: str, **kwargs: object) -> None:
            super().__init__(bash_command=f"echo hello {who}", **kwargs)  # type: ignore[arg-type]

    with DAG("hints", schedule=None):
        assert Greet(task_id="g", who="you").bash_command == "echo hello you"
        with pytest.raises(InvalidArgumentError, match="missing its required argument 'who'"):
            Greet(task_id="g2")


def test_required_arguments_of_a_custom_operator_get_hints_too() -> None:
    class Copy(BaseOperator):
        def __init__(self, *, source: str, target: str, **kwargs: object) -> None:
            super().__init__(**kwargs)  # type: ignore[arg-type]
            self.source, self.target = source, target

    with DAG("hints", schedule=None), pytest.raises(InvalidArgumentError, match="target= instead of taget="):
        Copy(task_id="c", source="a", taget="b")
