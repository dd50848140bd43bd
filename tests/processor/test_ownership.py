"""The same dag_id in two files: the earlier owner keeps it, stably; ownership moves only when freed."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from tests.processor.helpers import active_ids, dag_rows, import_errors, simple_dag, write
from windvane.core.processor import DagProcessor


def test_same_batch_first_path_wins_and_the_other_names_both_files(
    engine: Engine, dags_folder: Path, processor: DagProcessor
) -> None:
    first = write(dags_folder / "a_first.py", simple_dag("shared", tasks=2))
    second = write(dags_folder / "b_second.py", simple_dag("shared", tasks=3) + simple_dag("own"))
    report = processor.run_once()
    assert report.failed == 1 and report.dags_written == 2
    assert dag_rows(engine)["shared"]["fileloc"] == str(first)
    assert active_ids(engine) == {"shared", "own"}  # the other DAG of the later file is kept
    text = import_errors(engine)[str(second)]
    assert "'shared'" in text and str(first) in text and str(second) in text
    assert str(first) not in import_errors(engine)


def test_existing_owner_is_kept_when_a_new_file_claims_its_id(
    engine: Engine, dags_folder: Path, processor: DagProcessor
) -> None:
    owner = write(dags_folder / "z_owner.py", simple_dag("shared", tasks=2))
    processor.run_once()
    intruder = write(dags_folder / "a_intruder.py", simple_dag("shared", tasks=7))  # sorts first
    processor.run_once()
    row = dag_rows(engine)["shared"]
    assert row["fileloc"] == str(owner)
    assert str(owner) in import_errors(engine)[str(intruder)]
    for _ in range(2):  # stable across re-scans, forced or not, and edits of either file
        processor.run_once(force=True)
        assert dag_rows(engine)["shared"]["dag_hash"] == row["dag_hash"]
    write(intruder, simple_dag("shared", tasks=8))
    write(owner, simple_dag("shared", tasks=3))
    processor.run_once()
    assert dag_rows(engine)["shared"]["fileloc"] == str(owner)
    assert set(import_errors(engine)) == {str(intruder)}


def test_waiting_file_takes_over_when_the_owner_is_deleted(
    engine: Engine, dags_folder: Path, processor: DagProcessor
) -> None:
    owner = write(dags_folder / "a_owner.py", simple_dag("shared"))
    waiting = write(dags_folder / "b_waiting.py", simple_dag("shared", tasks=4))
    processor.run_once()
    owner.unlink()
    processor.run_once()
    row = dag_rows(engine)["shared"]
    assert row["is_active"] and row["fileloc"] == str(waiting)
    assert import_errors(engine) == {}


def test_waiting_file_takes_over_when_the_owner_drops_the_dag(
    engine: Engine, dags_folder: Path, processor: DagProcessor
) -> None:
    owner = write(dags_folder / "a_owner.py", simple_dag("shared"))
    waiting = write(dags_folder / "b_waiting.py", simple_dag("shared", tasks=4))
    processor.run_once()
    write(owner, simple_dag("renamed"))
    processor.run_once()
    rows = dag_rows(engine)
    assert rows["shared"]["is_active"] and rows["shared"]["fileloc"] == str(waiting)
    assert active_ids(engine) == {"shared", "renamed"} and import_errors(engine) == {}


def test_a_broken_owner_does_not_block_the_id_forever(
    engine: Engine, dags_folder: Path, processor: DagProcessor
) -> None:
    owner = write(dags_folder / "a_owner.py", simple_dag("shared"))
    waiting = write(dags_folder / "b_waiting.py", simple_dag("shared", tasks=4))
    processor.run_once()
    write(owner, "raise RuntimeError('half-edited')\n")
    processor.run_once()
    assert dag_rows(engine)["shared"]["fileloc"] == str(waiting)
    assert set(import_errors(engine)) == {str(owner)}
