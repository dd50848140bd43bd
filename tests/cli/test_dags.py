"""``windvane dags list | show | trigger | pause | unpause | list-runs | list-import-errors``."""

from __future__ import annotations

import json
from pathlib import Path

from .conftest import BROKEN_DAG, RunCli, write_dag


def test_list_table_and_json(ready: RunCli, dags_folder: Path) -> None:
    table = ready("dags", "list")
    assert table.code == 0
    for text in ("chain", "failing", "chain.py", "@daily", "windvane"):
        assert text in table.out
    rows = json.loads(ready("dags", "list", "--output", "json").out)
    assert [r["dag_id"] for r in rows] == ["chain", "failing"]
    chain = rows[0]
    assert chain["file"] == str(dags_folder / "chain.py")
    assert chain["paused"] is False and chain["schedule"] == "@daily" and chain["tags"] == ["demo"]
    assert chain["next_run"] is not None


def test_list_when_empty_says_so(run_cli: RunCli) -> None:
    assert run_cli("db", "migrate").code == 0
    result = run_cli("dags", "list")
    assert result.code == 0 and result.out == "" and "No DAGs found" in result.err
    assert json.loads(run_cli("dags", "list", "-o", "json").out) == []


def test_show_tree_and_dot(ready: RunCli) -> None:
    tree = ready("dags", "show", "chain")
    assert tree.code == 0
    lines = tree.out.splitlines()
    assert lines[0] == "chain (3 tasks)"
    assert lines[1].index("a (") < lines[2].index("b (") < lines[3].index("c (")  # each one deeper
    assert "a (BashOperator)" in tree.out and "b (PythonOperator)" in tree.out
    dot = ready("dags", "show", "chain", "--dot").out
    assert dot.startswith('digraph "chain" {')
    assert '"a" -> "b";' in dot and '"b" -> "c";' in dot


def test_show_unknown_dag(ready: RunCli) -> None:
    result = ready("dags", "show", "nope")
    assert result.code == 1 and result.err == "windvane: error: DAG 'nope' does not exist\n"


def test_trigger_then_list_runs(ready: RunCli) -> None:
    triggered = ready("dags", "trigger", "chain", "--conf", '{"x": 1}', "--logical-date", "2024-02-01")
    assert triggered.code == 0
    assert "manual__2024-02-01T00:00:00+00:00" in triggered.out
    named = ready("dags", "trigger", "chain", "--run-id", "my_run")
    assert named.code == 0 and "my_run" in named.out
    runs = json.loads(ready("dags", "list-runs", "chain", "-o", "json").out)
    assert {r["run_id"] for r in runs} == {"manual__2024-02-01T00:00:00+00:00", "my_run"}
    by_id = {r["run_id"]: r for r in runs}
    assert by_id["manual__2024-02-01T00:00:00+00:00"]["conf"] == {"x": 1}
    assert all(r["state"] == "queued" and r["run_type"] == "manual" for r in runs)
    assert len(json.loads(ready("dags", "list-runs", "chain", "--limit", "1", "-o", "json").out)) == 1
    assert json.loads(ready("dags", "list-runs", "chain", "--state", "success", "-o", "json").out) == []
    table = ready("dags", "list-runs", "chain")
    assert "my_run" in table.out and "queued" in table.out


def test_trigger_logical_date_without_offset_is_in_default_timezone(ready: RunCli, home: Path) -> None:
    with_offset = ready("dags", "trigger", "chain", "-l", "2024-02-01T12:00:00+02:00")
    assert with_offset.code == 0 and "manual__2024-02-01T10:00:00+00:00" in with_offset.out
    config = home / "windvane.toml"
    text = config.read_text(encoding="utf-8").replace("[core]\n", '[core]\ndefault_timezone = "Asia/Tokyo"\n')
    config.write_text(text, encoding="utf-8")
    naive = ready("dags", "trigger", "chain", "-l", "2024-02-01T12:00")
    assert naive.code == 0 and "manual__2024-02-01T03:00:00+00:00" in naive.out


def test_trigger_duplicate_run_id_is_an_error(ready: RunCli) -> None:
    assert ready("dags", "trigger", "chain", "-r", "twice").code == 0
    again = ready("dags", "trigger", "chain", "-r", "twice")
    assert again.code == 1 and "'twice'" in again.err and "chain" in again.err


def test_trigger_bad_conf_names_the_option(ready: RunCli) -> None:
    bad = ready("dags", "trigger", "chain", "--conf", "{not json")
    assert bad.code == 2
    assert bad.err.count("\n") == 1
    assert "argument -c/--conf: not valid JSON" in bad.err
    not_object = ready("dags", "trigger", "chain", "--conf", "[1, 2]")
    assert not_object.code == 2 and "must be a JSON object" in not_object.err
    assert json.loads(ready("dags", "list-runs", "chain", "-o", "json").out) == []


def test_trigger_bad_date_names_the_option(ready: RunCli) -> None:
    bad = ready("dags", "trigger", "chain", "--logical-date", "2024-13-45")
    assert bad.code == 2
    assert "argument -l/--logical-date: not an ISO 8601 date: '2024-13-45'" in bad.err


def test_trigger_unknown_dag(ready: RunCli) -> None:
    result = ready("dags", "trigger", "nope")
    assert result.code == 1 and "DAG 'nope' does not exist" in result.err


def test_pause_and_unpause(ready: RunCli) -> None:
    paused = ready("dags", "pause", "chain")
    assert paused.code == 0 and "paused" in paused.out
    rows = {r["dag_id"]: r for r in json.loads(ready("dags", "list", "-o", "json").out)}
    assert rows["chain"]["paused"] is True and rows["failing"]["paused"] is False
    assert ready("dags", "unpause", "chain").code == 0
    rows = {r["dag_id"]: r for r in json.loads(ready("dags", "list", "-o", "json").out)}
    assert rows["chain"]["paused"] is False
    unknown = ready("dags", "pause", "nope")
    assert unknown.code == 1 and "'nope'" in unknown.err


def test_list_runs_of_unknown_dag_and_bad_state(ready: RunCli) -> None:
    assert ready("dags", "list-runs", "nope").code == 1
    bad = ready("dags", "list-runs", "chain", "--state", "sleeping")
    assert bad.code == 2 and "argument --state: invalid choice: 'sleeping'" in bad.err
    assert ready("dags", "list-runs", "chain", "--limit", "0").code == 2


def test_list_import_errors_exit_code(ready: RunCli, dags_folder: Path) -> None:
    clean = ready("dags", "list-import-errors")
    assert clean.code == 0 and "No import errors" in clean.err
    write_dag(dags_folder, "broken.py", BROKEN_DAG)
    processed = ready("dag-processor", "-n", "1")
    assert processed.code == 1  # a bounded run over a folder with a broken file fails (CI relies on it)
    assert (
        "1 DAG file(s) failed to import" in processed.err
        and "RuntimeError: broken on purpose" in processed.err
    )
    found = ready("dags", "list-import-errors")
    assert found.code == 1
    assert str(dags_folder / "broken.py") in found.out and "RuntimeError: broken on purpose" in found.out
    rows = json.loads(ready("dags", "list-import-errors", "-o", "json").out)
    assert [r["file"] for r in rows] == [str(dags_folder / "broken.py")]


def test_list_import_errors_before_any_parse_is_not_a_success(run_cli: RunCli, dags_folder: Path) -> None:
    write_dag(dags_folder, "broken.py", BROKEN_DAG)
    assert run_cli("db", "migrate").code == 0
    nothing = run_cli("dags", "list-import-errors")
    assert nothing.code == 1
    assert "Nothing has been parsed yet" in nothing.err and "No import errors" not in nothing.err
    as_json = run_cli("dags", "list-import-errors", "-o", "json")
    assert as_json.code == 1 and json.loads(as_json.out) == []
