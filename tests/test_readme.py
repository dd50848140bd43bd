"""The README's commands and example DAG stay true."""

from __future__ import annotations

import argparse
import re
import runpy
from pathlib import Path

import pendulum

from windvane import DAG
from windvane.core.model.states import DagRunState
from windvane.core.worker.in_process import run_dag_in_process

README = (Path(__file__).parents[1] / "README.md").read_text()


def test_readme_opens_with_the_demo_and_test_commands() -> None:
    first_block = re.search(r"```bash\n(.*?)```", README, re.S)
    assert first_block is not None
    commands = [line.split("#")[0].strip() for line in first_block.group(1).splitlines()]
    assert commands[:2] == ["make demo", "make test"]
    makefile = (Path(__file__).parents[1] / "Makefile").read_text()
    assert "\ndemo:" in makefile and "\ntest:" in makefile
    assert "make test" in (Path(__file__).parents[1] / ".ci" / "run").read_text()


def test_the_example_dag_in_the_readme_runs_to_success(tmp_path: Path) -> None:
    code = re.search(r"```python\n(.*?)```", README, re.S)
    assert code is not None
    path = tmp_path / "readme_dag.py"
    path.write_text(code.group(1))
    dags = [v for v in runpy.run_path(str(path)).values() if isinstance(v, DAG)]
    assert [d.dag_id for d in dags] == ["nightly_sales"]
    result = run_dag_in_process(dags[0], logical_date=pendulum.datetime(2024, 3, 4, tz="UTC"))
    assert result.state is DagRunState.SUCCESS, {t: r.error for t, r in result.tasks.items()}


def test_the_readme_names_every_top_level_command() -> None:
    from windvane.cli.main import build_parser

    row = next(line for line in README.splitlines() if line.startswith("| CLI (`windvane`)"))
    named = set(re.findall(r"`([a-z-]+)`", row.split("|")[2]))
    subparsers = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    assert named == set(subparsers.choices), "README's CLI row and `windvane --help` disagree"
