"""Parsing in forked children: what is collected, errors, timeouts and crashes (no database)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

import windvane
from tests.processor.helpers import simple_dag, write
from windvane.core.authoring import dag_context as authoring_context
from windvane.core.model.serialized_dag import SerializedDag
from windvane.core.processor.parse_child import ParseOutcome, dag_hash_of, module_name_for, parse_file
from windvane.core.processor.pool import FileResult, parse_files
from windvane.errors import DagDefinitionError

WINDVANE_DIR = os.path.dirname(os.path.abspath(windvane.__file__))


def parse(*paths: Path, timeout: float = 30.0, parallelism: int = 2) -> dict[str, FileResult]:
    results = parse_files([str(p) for p in paths], parallelism=parallelism, timeout=timeout)
    return {r.path: r for r in results}


def dag_ids(result: FileResult) -> list[str]:
    assert result.outcome is not None, result.error
    return [json.loads(text)["dag_id"] for text in result.outcome.dags]


def test_collects_globals_with_blocks_and_called_dag_functions(tmp_path: Path) -> None:
    path = write(
        tmp_path / "many.py",
        """
        assigned = DAG("assigned", schedule=None)
        EmptyOperator(task_id="a", dag=assigned)

        def build():
            with DAG("built_in_function", schedule=None):
                EmptyOperator(task_id="b")

        build()

        @dag(schedule="@daily", start_date=START)
        def decorated():
            EmptyOperator(task_id="c")

        decorated()

        @dag(schedule=None)
        def never_called():
            EmptyOperator(task_id="d")

        print("user output must not reach the pipe")
        """,
    )
    result = parse(path)[str(path)]
    assert result.error is None
    assert sorted(dag_ids(result)) == ["assigned", "built_in_function", "decorated"]


def test_serialized_dags_load_back_with_hash_and_fileloc(tmp_path: Path) -> None:
    path = write(tmp_path / "etl.py", simple_dag("etl", tasks=4))
    outcome = parse(path)[str(path)].outcome
    assert outcome is not None
    [text] = outcome.dags
    sd = SerializedDag.from_json(text)
    assert len(sd.tasks) == 4 and sd.fileloc == str(path)
    assert outcome.hashes == [sd.dag_hash] == [dag_hash_of(text)]


def test_outcome_round_trips_and_rejects_mismatched_lists() -> None:
    outcome = ParseOutcome("abc", dags=["{}"], hashes=["h"], error=None)
    assert ParseOutcome.decode(outcome.encode()) == outcome
    with pytest.raises(ValueError):
        ParseOutcome.decode(b'{"hash": "", "dags": ["{}"], "hashes": [], "error": null}')


def test_module_names_are_unique_per_path() -> None:
    assert module_name_for("/a/dag.py") != module_name_for("/b/dag.py")
    assert module_name_for("/a/my-dag.py").isidentifier()


def test_import_error_traceback_keeps_only_user_frames(tmp_path: Path) -> None:
    write(
        tmp_path / "helper_mod.py",
        "def make(op):\n    return op(task_id='t', no_such_argument=1)\n",
        header=False,
    )
    path = write(
        tmp_path / "broken.py",
        """
        import helper_mod  # the file's folder is on sys.path

        with DAG("broken", schedule=None):
            helper_mod.make(EmptyOperator)
        """,
    )
    error = parse(path)[str(path)].error
    assert error is not None
    assert f'File "{path}", line 10, in <module>' in error
    assert 'helper_mod.py", line 2, in make' in error
    assert "no_such_argument" in error and "InvalidArgumentError" in error
    assert WINDVANE_DIR not in error
    assert "importlib" not in error and "runpy" not in error


def test_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path / "syntax.py", "# windvane dag\ndef oops(:\n    pass\n", header=False)
    error = parse(path)[str(path)].error
    assert error is not None
    assert f'File "{path}", line 2' in error and "SyntaxError" in error


def test_dag_level_errors_name_the_dag_and_keep_the_other_dags(tmp_path: Path) -> None:
    path = write(
        tmp_path / "mixed.py",
        """
        good = DAG("good", schedule=None)
        EmptyOperator(task_id="a", dag=good)

        cyclic = DAG("cyclic", schedule=None)
        x = EmptyOperator(task_id="x", dag=cyclic)
        y = EmptyOperator(task_id="y", dag=cyclic)
        x >> y >> x
        """,
    )
    result = parse(path)[str(path)]
    assert dag_ids(result) == ["good"]
    assert result.error is not None
    assert "DAG 'cyclic'" in result.error and "x -> y -> x" in result.error


def test_bad_cron_names_the_dag(tmp_path: Path) -> None:
    path = write(tmp_path / "cron.py", 'DAG("bad_cron", schedule="61 * * * *", start_date=START)\n')
    error = parse(path)[str(path)].error
    assert error is not None and "DAG 'bad_cron'" in error and "minute" in error
    assert f'File "{path}", line 6' in error


def test_sys_exit_in_a_dag_file_is_an_import_error(tmp_path: Path) -> None:
    path = write(tmp_path / "leaves.py", "import sys\nsys.exit(3)\n")
    error = parse(path)[str(path)].error
    assert error is not None and "SystemExit: 3" in error


def test_a_file_that_hangs_is_killed_while_others_are_parsed(tmp_path: Path) -> None:
    hang = write(tmp_path / "hang.py", "import time\nwhile True:\n    time.sleep(60)\n")
    good = write(tmp_path / "good.py", simple_dag("good"))
    results = parse(hang, good, timeout=1.0)
    assert results[str(hang)].timed_out
    assert (
        results[str(hang)].error
        == f"{hang}: timed out after 1 s (dag_processor.file_parse_timeout_seconds); "
        "the parsing process was killed"
    )
    assert dag_ids(results[str(good)]) == ["good"]


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("import os\nos._exit(1)\n", "exited with code 1 before reporting"),
        ("import ctypes\nctypes.string_at(0)\n", "killed by SIGSEGV"),
        ("import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n", "killed by SIGKILL"),
    ],
)
def test_a_child_that_dies_is_recorded(tmp_path: Path, code: str, expected: str) -> None:
    dead = write(tmp_path / "dies.py", code)
    good = write(tmp_path / "good.py", simple_dag("good"))
    results = parse(dead, good)
    result = results[str(dead)]
    assert result.outcome is None and not result.timed_out
    assert result.error is not None and result.error.startswith(f"{dead}: ") and expected in result.error
    assert dag_ids(results[str(good)]) == ["good"]


def test_large_outcomes_are_read_while_the_child_writes(tmp_path: Path) -> None:
    body = "".join(simple_dag(f"big_{i}", tasks=30) for i in range(40))  # well over a pipe buffer
    path = write(tmp_path / "big.py", body)
    result = parse(path)[str(path)]
    assert result.outcome is not None and sum(len(t) for t in result.outcome.dags) > 1 << 16
    assert len(dag_ids(result)) == 40


def test_parallelism_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        list(parse_files([], parallelism=0, timeout=1.0))


def test_the_first_run_check_is_left_to_the_processor_and_restored_after(tmp_path: Path) -> None:
    path = write(tmp_path / "poison.py", "from datetime import timedelta\n"
                 'with DAG("poison", schedule=timedelta(days=3_000_000), start_date=START):\n'
                 '    EmptyOperator(task_id="t")\n' + simple_dag("fine"))  # fmt: skip
    outcome = parse_file(str(path))
    assert outcome.error is None
    assert sorted(json.loads(text)["dag_id"] for text in outcome.dags) == ["fine", "poison"]
    assert authoring_context.first_run_deferred() is False
    with pytest.raises(DagDefinitionError, match="next run cannot be computed"):
        exec(compile(path.read_text(), str(path), "exec"), {})  # as any other importer sees it
