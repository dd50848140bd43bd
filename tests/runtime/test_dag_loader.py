"""DagLoader: import by path under a unique module name, cache by file version."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from windvane.core.worker.dag_loader import DagLoader
from windvane.errors import DagImportError, NotFoundError

SOURCE = """
from datetime import datetime, timezone
from windvane.core.authoring.dag import DAG, dag
from windvane.core.authoring.operators.empty import EmptyOperator

with DAG("{dag_id}", schedule=None, start_date=datetime(2024, 1, 1, tzinfo=timezone.utc)) as first:
    EmptyOperator(task_id="{task_id}")

@dag(schedule=None, start_date=datetime(2024, 1, 1, tzinfo=timezone.utc))
def built_by_decorator():
    EmptyOperator(task_id="x")

built_by_decorator()  # not bound to a global: found all the same
"""


def _write(folder: Path, dag_id: str = "one", task_id: str = "a") -> str:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "dag.py"
    path.write_text(SOURCE.format(dag_id=dag_id, task_id=task_id))
    return str(path)


def test_loads_every_dag_of_a_file(tmp_path: Path) -> None:
    path = _write(tmp_path)
    dags = DagLoader().dags_in(path)
    assert sorted(dags) == ["built_by_decorator", "one"]
    assert dags["one"].fileloc == path


def test_same_version_is_cached_a_changed_file_is_imported_again(tmp_path: Path) -> None:
    loader = DagLoader()
    path = _write(tmp_path)
    first = loader.get_dag(path, "one")
    assert loader.get_dag(path, "one") is first
    _write(tmp_path, task_id="renamed_task")  # a different size, whatever the mtime resolution
    again = loader.get_dag(path, "one")
    assert again is not first and again.task_ids == ["renamed_task"]


def test_two_files_with_the_same_name_do_not_collide(tmp_path: Path) -> None:
    loader = DagLoader()
    a = loader.get_dag(_write(tmp_path / "a", dag_id="in_a"), "in_a")
    b = loader.get_dag(_write(tmp_path / "b", dag_id="in_b"), "in_b")
    assert a.task_ids == b.task_ids == ["a"]
    assert "dag" not in sys.modules or not str(getattr(sys.modules["dag"], "__file__", "")).startswith(
        str(tmp_path)
    )


def test_import_failure_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.py"
    path.write_text("x = 1\nraise RuntimeError('cannot build this DAG')\n")
    with pytest.raises(DagImportError) as info:
        DagLoader().dags_in(str(path))
    assert info.value.path == str(path)
    assert str(path) in str(info.value) and "cannot build this DAG" in str(info.value)


def test_missing_file_and_missing_dag(tmp_path: Path) -> None:
    with pytest.raises(DagImportError, match="cannot read"):
        DagLoader().dags_in(str(tmp_path / "nope.py"))
    with pytest.raises(NotFoundError, match="'other' is not defined"):
        DagLoader().get_dag(_write(tmp_path), "other")


def test_sys_exit_at_import_is_an_import_error(tmp_path: Path) -> None:
    path = tmp_path / "exits.py"
    path.write_text("import sys\nsys.exit(2)\n")
    with pytest.raises(DagImportError):
        DagLoader().dags_in(str(path))
    assert os.getpid()  # still here


def test_keeps_at_most_max_files_least_recently_used_out(tmp_path: Path) -> None:
    """A worker's memory must not grow with the DAG files it has seen (issue 15)."""
    from windvane.core.authoring.file_modules import module_name_for

    loader = DagLoader(max_files=2)
    paths = [_write(tmp_path / name, dag_id=f"in_{name}") for name in ("a", "b", "c")]
    first_a = loader.get_dag(paths[0], "in_a")
    loader.get_dag(paths[1], "in_b")
    assert loader.get_dag(paths[0], "in_a") is first_a  # a is now the most recently used
    loader.get_dag(paths[2], "in_c")  # b goes
    assert loader.cached_files == 2 and loader.evictions == 1
    assert module_name_for(paths[1]) not in sys.modules
    assert module_name_for(paths[0]) in sys.modules
    assert loader.get_dag(paths[0], "in_a") is first_a
    imports = loader.imports
    assert loader.get_dag(paths[1], "in_b").dag_id == "in_b"  # imported again on its next use
    assert loader.imports == imports + 1
    loader.forget()
    assert loader.cached_files == 0 and module_name_for(paths[0]) not in sys.modules


def test_max_files_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least one"):
        DagLoader(max_files=0)
