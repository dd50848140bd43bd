"""docs/testing.md stays true: its plain examples run, its pytest examples pass under pytest."""

from __future__ import annotations

import re
import runpy
from pathlib import Path

import pytest

DOC = (Path(__file__).parents[1] / "docs" / "testing.md").read_text()
BLOCKS = re.findall(r"```python\n(.*?)```", DOC, re.S)
#: Blocks whose first line names a file (``# conftest.py``, ``# test_x.py``) are files of a pytest run.
FILES = {block.split("\n", 1)[0][2:].strip(): block for block in BLOCKS if block.startswith("# ")}
SCRIPTS = [block for block in BLOCKS if not block.startswith("# ")]


@pytest.mark.parametrize("index", range(len(SCRIPTS)))
def test_plain_example_runs(index: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / f"example_{index}.py"
    path.write_text(SCRIPTS[index])
    runpy.run_path(str(path))


def test_pytest_examples_pass(pytester: pytest.Pytester) -> None:
    assert "conftest.py" in FILES and len(FILES) >= 4, sorted(FILES)
    for name, source in FILES.items():
        pytester.path.joinpath(name).write_text(source)
    # The contract's checks run in tests/runtime/test_executor_contract.py; here only the declarations.
    only = "(not TestLocalExecutor and not TestInstantExecutor) or skipped_checks_are_known"
    result = pytester.runpytest_inprocess(
        "-q",
        "-p",
        "no:cacheprovider",
        "-p",
        "windvane.testing.plugin_extras",
        "-m",
        "not postgres",
        "-k",
        only,
    )
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) == 0 and outcomes.get("errors", 0) == 0, result.stdout.str()
    assert outcomes["passed"] == 6, result.stdout.str()  # 4 + the 2 of "Running DAGs and tasks in your tests"
    assert outcomes["deselected"] >= 20  # both contract classes were collected
