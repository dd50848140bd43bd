"""Fixtures for CLI tests: a tmp Windvane home (SQLite) with a DAGs folder, and ``main`` run in-process.

``run_cli("dags", "list")`` runs ``windvane --home <home> dags list`` and
returns its exit code with what it printed. ``ready`` is a home whose
database is migrated and whose DAG files were parsed once (``dag-processor -n 1``).
"""

from __future__ import annotations

import json
import logging
import os
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from windvane.cli.main import main
from windvane.core.authoring.defaults import get_authoring_defaults, set_authoring_defaults

CHAIN_DAG = """\
import pendulum
from windvane import DAG, BashOperator, PythonOperator


def _push():
    print("pushing from b")
    return {"n": 1}


with DAG("chain", schedule="@daily", start_date=pendulum.datetime(2024, 1, 1), catchup=False,
         tags=["demo"]) as dag:
    a = BashOperator(task_id="a", bash_command="echo hello-from-a")
    b = PythonOperator(task_id="b", python_callable=_push)
    c = BashOperator(task_id="c", bash_command="echo got-{{ ti.xcom_pull(task_ids='b')['n'] }}")
    a >> b >> c
"""

FAILING_DAG = """\
import pendulum
from windvane import DAG, PythonOperator


def _boom():
    raise ValueError("kaboom")


with DAG("failing", schedule="@daily", start_date=pendulum.datetime(2024, 1, 1), catchup=False) as dag:
    ok = PythonOperator(task_id="ok", python_callable=lambda: 1)
    boom = PythonOperator(task_id="boom", python_callable=_boom)
    after = PythonOperator(task_id="after", python_callable=lambda: 2)
    ok >> boom >> after
"""

BROKEN_DAG = """\
from windvane import DAG

raise RuntimeError("broken on purpose")
"""


@dataclass(frozen=True)
class Result:
    """What one ``windvane`` invocation returned and printed."""

    code: int
    out: str
    err: str


RunCli = Callable[..., Result]


def table_rows(out: str) -> list[list[str]]:
    """The body rows of a rich table in ``out``, as lists of stripped cells."""
    return [
        [c.strip() for c in line.strip("│").split("│")] for line in out.splitlines() if line.startswith("│")
    ]


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No WINDVANE_* variables from the outside; global state ``main`` sets is restored afterwards."""
    for name in list(os.environ):
        if name.startswith("WINDVANE"):
            monkeypatch.delenv(name)
    defaults = get_authoring_defaults()
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    yield
    set_authoring_defaults(defaults)
    root.setLevel(level)
    root.handlers[:] = handlers


def write_dag(folder: Path, name: str, source: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(source), encoding="utf-8")
    return path


@pytest.fixture
def dags_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "dags"
    folder.mkdir()
    write_dag(folder, "chain.py", CHAIN_DAG)
    write_dag(folder, "failing.py", FAILING_DAG)
    return folder


@pytest.fixture
def home(tmp_path: Path, dags_folder: Path) -> Path:
    """A Windvane home on SQLite whose DAGs folder holds ``chain`` and ``failing``."""
    path = tmp_path / "home"
    path.mkdir()
    (path / "windvane.toml").write_text(
        textwrap.dedent(
            f"""\
            [core]
            dags_folder = {json.dumps(str(dags_folder))}
            executor = "local"
            parallelism = 2

            [scheduler]
            idle_sleep_seconds = 0.05

            [dag_processor]
            parsing_processes = 1
            """
        ),
        encoding="utf-8",
    )
    return path


@pytest.fixture
def run_cli(home: Path, capsys: pytest.CaptureFixture[str]) -> RunCli:
    def run(*args: str) -> Result:
        capsys.readouterr()
        code = main(["--home", str(home), *args])
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


@pytest.fixture
def ready(run_cli: RunCli) -> RunCli:
    """``run_cli`` on a migrated database holding the parsed DAGs."""
    assert run_cli("db", "migrate").code == 0
    parsed = run_cli("dag-processor", "--num-runs", "1")
    assert parsed.code == 0, parsed.err
    return run_cli
