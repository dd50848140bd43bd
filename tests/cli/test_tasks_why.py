"""``windvane tasks why``: the explanation as text and as JSON; exit 0 with an answer, 1 for unknown names."""

from __future__ import annotations

import json

from .conftest import RunCli

RUN_ID = "manual__2024-02-01T00:00:00+00:00"


def test_text_and_json_answers(ready: RunCli) -> None:
    assert ready("dags", "trigger", "chain", "--logical-date", "2024-02-01").code == 0
    text = ready("tasks", "why", "chain", "b", RUN_ID)
    assert text.code == 0, text.err
    lines = text.out.splitlines()
    assert lines[0] == f"chain.b in {RUN_ID}: none (waiting)"
    assert "  [scheduler_not_heartbeating] No scheduler is running" in text.out
    assert f"  [run_not_running] Its run {RUN_ID} is queued" in text.out
    assert "  [upstream_not_done] Waiting for 1 of 1 upstream task(s) to finish: a (none)" in text.out
    assert "      upstream a: none" in lines

    answer = json.loads(ready("tasks", "why", "chain", "b", RUN_ID, "--json").out)
    assert answer["verdict"] == "waiting"
    assert answer["ready"] is False
    assert [r["code"] for r in answer["reasons"]] == [
        "scheduler_not_heartbeating",
        "run_not_running",
        "upstream_not_done",
    ]
    assert answer["reasons"][2]["details"]["waiting_for"] == ["a"]
    assert answer["summary"] == answer["reasons"][0]["message"]


def test_a_finished_task_instance(ready: RunCli) -> None:
    assert ready("dags", "trigger", "chain", "--logical-date", "2024-02-01").code == 0
    assert ready("tasks", "run", "chain", "a", RUN_ID).code == 0
    done = ready("tasks", "why", "chain", "a", RUN_ID)
    assert (done.code, done.out.splitlines()[2]) == (0, "  [already_done] Already finished: success.")


def test_unknown_names_exit_1_and_a_missing_argument_2(ready: RunCli) -> None:
    assert ready("dags", "trigger", "chain", "--logical-date", "2024-02-01").code == 0
    cases = {
        ("nope", "a", RUN_ID): "DAG 'nope' does not exist",
        ("chain", "zzz", RUN_ID): "task 'zzz' not found in DAG 'chain'",
        ("chain", "a", "no_run"): "DAG run 'no_run' of DAG 'chain' does not exist",
    }
    for args, message in cases.items():
        result = ready("tasks", "why", *args)
        assert (result.code, result.out, result.err) == (1, "", f"windvane: error: {message}\n"), args
    assert ready("tasks", "why", "chain", "a").code == 2
