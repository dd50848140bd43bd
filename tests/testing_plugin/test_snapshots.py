"""Structure snapshots: written on request, compared otherwise, with a readable list of changes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from windvane import DAG, BashOperator, EmptyOperator
from windvane.testing.errors import SnapshotMismatchError
from windvane.testing.snapshots import check_snapshot, dag_structure, snapshot_path

from .dags import START


def _dag(rule: str = "all_success", extra_edge: bool = False, with_c: bool = True) -> DAG:
    with DAG("shape", schedule="@daily", start_date=START, tags=["b", "a"]) as dag:
        a = EmptyOperator(task_id="a")
        b = BashOperator(task_id="b", bash_command="echo b", retries=2, trigger_rule=rule)
        a >> b
        if with_c:
            c = EmptyOperator(task_id="c")
            b >> c
            if extra_edge:
                a >> c
    return dag


def test_the_structure_names_tasks_edges_rules_schedule_and_key_arguments() -> None:
    structure = dag_structure(_dag())
    assert structure["edges"] == ["a -> b", "b -> c"]
    assert structure["timetable"] == {"__type": "cron", "__var": {"expression": "@daily", "timezone": "UTC"}}
    assert structure["tasks"]["b"]["operator"] == "BashOperator"
    assert (
        structure["tasks"]["b"]["retries"] == 2 and structure["tasks"]["b"]["trigger_rule"] == "all_success"
    )
    assert structure["start_date"] == "2024-01-01T00:00:00+00:00" and structure["tags"] == ["b", "a"]
    assert json.loads(json.dumps(structure)) == structure  # plain JSON, compares equal once loaded


def test_update_writes_then_an_unchanged_dag_passes(tmp_path: Path) -> None:
    assert check_snapshot(_dag(), tmp_path, update=True) is True
    assert json.loads(snapshot_path(tmp_path, "shape").read_text()) == dag_structure(_dag())
    assert check_snapshot(_dag(), tmp_path) is False
    assert check_snapshot(_dag(), tmp_path, update=True) is False  # nothing to rewrite


def test_a_missing_snapshot_fails_and_says_how_to_write_it(tmp_path: Path) -> None:
    with pytest.raises(
        SnapshotMismatchError,
        match=r"has no structure snapshot at .*shape.json: run pytest with "
        "--windvane-snapshot-update",
    ):
        check_snapshot(_dag(), tmp_path)


def test_a_change_fails_with_each_change_listed(tmp_path: Path) -> None:
    check_snapshot(_dag(), tmp_path, update=True)
    with pytest.raises(SnapshotMismatchError) as raised:
        check_snapshot(_dag(rule="all_done", extra_edge=True), tmp_path)
    lines = str(raised.value).splitlines()
    assert lines[0] == f"DAG 'shape' no longer matches its snapshot {tmp_path / 'shape.json'} (2 change(s)):"
    assert lines[1:3] == ["  tasks.b.trigger_rule: 'all_success' -> 'all_done'", "  edge added: a -> c"]
    assert "--windvane-snapshot-update" in lines[-1]
    with pytest.raises(SnapshotMismatchError, match=r"task removed: c\n  edge removed: b -> c"):
        check_snapshot(_dag(with_c=False), tmp_path)
