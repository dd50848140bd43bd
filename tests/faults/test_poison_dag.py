"""Defect 2: a DAG whose next run cannot be computed fails only its own file.

Before the fix the processor's parent raised OverflowError computing ``next_dagrun``: the whole
batch was lost, no import error was recorded and ``dag-processor -n 1`` exited 1.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pendulum
import pytest
from sqlalchemy import Engine

from tests.faults.conftest import RunCliLike
from tests.processor.helpers import active_ids, import_errors, simple_dag, write
from windvane.core.authoring import validation
from windvane.core.model.clock import FakeClock
from windvane.core.processor import DagProcessor

POISONS = {
    "huge_delta.py": 'with DAG("huge_delta", schedule=timedelta(days=3_000_000), start_date=START):\n'
    '    EmptyOperator(task_id="t")\n',
    "end_of_time.py": 'with DAG("end_of_time", schedule="@daily", '
    "start_date=pendulum.datetime(9999, 12, 31, tz='UTC')):\n"
    '    EmptyOperator(task_id="t")\n',
}


def _write_folder(folder: Path) -> None:
    for name, body in POISONS.items():
        write(folder / name, "from datetime import timedelta\n" + body)
    write(folder / "good.py", simple_dag("good"))


def _assert_only_poisons_failed(engine: Engine, folder: Path) -> None:
    assert active_ids(engine) == {"good"}
    errors = import_errors(engine)
    assert set(errors) == {str(folder / name) for name in POISONS}
    for name, text in errors.items():
        dag_id = Path(name).stem
        assert repr(dag_id) in text and "next run" in text


def _processor(engine: Engine, folder: Path, *, parse_from_template: bool = True) -> DagProcessor:
    clock = FakeClock(pendulum.datetime(2024, 3, 10, 12, 0, tz="UTC"))
    return DagProcessor(
        folder,
        engine,
        parse_timeout=30.0,
        clock=clock,
        batch_size=100,
        parse_from_template=parse_from_template,
    )


def test_poison_dags_are_import_errors_and_good_files_are_stored(engine: Engine, tmp_path: Path) -> None:
    folder = tmp_path / "dags"
    _write_folder(folder)
    report = _processor(engine, folder).run_once()
    assert report.failed == 2
    _assert_only_poisons_failed(engine, folder)


def test_the_parent_survives_dags_the_child_let_through(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The parent's own guard: children (forked by this process, after this patch) no longer
    check the first run."""
    monkeypatch.setattr(validation, "first_run_computable", lambda dag_id, compute: None)
    folder = tmp_path / "dags"
    _write_folder(folder)
    _processor(engine, folder, parse_from_template=False).run_once()
    _assert_only_poisons_failed(engine, folder)


def test_dag_processor_once_completes_and_names_the_poison_file(ready: RunCliLike, dags_folder: Path) -> None:
    (dags_folder / "poison.py").write_text(
        textwrap.dedent(
            """\
            from datetime import timedelta
            import pendulum
            from windvane import DAG
            from windvane.core.authoring.operators.empty import EmptyOperator

            with DAG("poison", schedule=timedelta(days=3_000_000), start_date=pendulum.datetime(2024, 1, 1)):
                EmptyOperator(task_id="t")
            """
        )
    )
    result = ready("dag-processor", "-n", "1")
    # The pass completes; a bounded run then exits 1 naming the file that failed (not a crash).
    assert result.code == 1 and "1 DAG file(s) failed to import" in result.err, result.err
    assert "poison.py" in result.err and "next run cannot be computed" in result.err
    errors = ready("dags", "list-import-errors")
    assert "poison.py" in errors.out and "'poison'" in errors.out
    assert "chain" in ready("dags", "list").out


def test_an_out_of_range_argument_is_an_import_error_naming_dag_task_and_argument(
    engine: Engine, tmp_path: Path
) -> None:
    folder = tmp_path / "dags"
    write(
        folder / "heavy.py",
        'with DAG("heavy", schedule="@daily", start_date=START):\n'
        '    EmptyOperator(task_id="t", priority_weight=2**31)\n',
    )
    write(folder / "good.py", simple_dag("good"))
    _processor(engine, folder).run_once()
    assert active_ids(engine) == {"good"}
    error = import_errors(engine)[str(folder / "heavy.py")]
    assert "task 't' of DAG 'heavy'" in error and "priority_weight" in error and "2147483648" in error


def test_a_poison_dag_fails_alone_beside_a_good_dag_of_the_same_file(engine: Engine, tmp_path: Path) -> None:
    """The parse child leaves the first-run check to the processor (once per schedule): the
    file's other DAG is stored, the poison one is an import error naming it."""
    folder = tmp_path / "dags"
    write(
        folder / "mixed.py",
        "from datetime import timedelta\n" + POISONS["huge_delta.py"] + simple_dag("fine"),
    )
    report = _processor(engine, folder).run_once()
    assert active_ids(engine) == {"fine"}
    errors = import_errors(engine)
    assert set(errors) == {str(folder / "mixed.py")}
    assert (
        "'huge_delta'" in errors[str(folder / "mixed.py")] and "next run" in errors[str(folder / "mixed.py")]
    )
    assert report.failed == 1
