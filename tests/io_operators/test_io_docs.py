"""docs/operators-io.md stays true: its examples define valid tasks and it names every argument."""

from __future__ import annotations

import importlib.util
import inspect
import re
from pathlib import Path

import pytest

from windvane import EmailOperator, HttpOperator, SQLExecuteQueryOperator
from windvane.core.authoring.dag_context import current_dag

DOC = (Path(__file__).parents[2] / "docs" / "operators-io.md").read_text()
BLOCKS = re.findall(r"```python\n(.*?)```", DOC, re.S)


@pytest.mark.parametrize("block", BLOCKS, ids=[f"example{i}" for i in range(len(BLOCKS))])
def test_the_examples_define_their_tasks(block: str) -> None:
    if "http_sensor" in block:
        if importlib.util.find_spec("windvane.core.authoring.operators.http_sensor") is None:
            pytest.skip("HttpSensor is not merged yet (it subclasses sensors14's BaseSensorOperator)")
        opening = "from windvane import DAG\nimport pendulum\nwith DAG('s', start_date=pendulum.now()):\n"
        block = opening + "\n".join("    " + line for line in block.splitlines())
    exec(compile(block, "docs/operators-io.md", "exec"), {})
    assert current_dag() is None


@pytest.mark.parametrize("operator", [SQLExecuteQueryOperator, HttpOperator, EmailOperator])
def test_every_argument_is_documented(operator: type) -> None:
    names = [p for p in inspect.signature(operator.__init__).parameters if p not in ("self", "kwargs")]
    section = DOC.split(f"## {operator.__name__}")[1].split("\n## ")[0]
    missing = [name for name in names if f"`{name}`" not in section]
    assert not missing
