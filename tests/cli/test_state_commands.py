"""``dags state`` and ``tasks state``: one word on stdout, the run named by run id or logical date."""

from __future__ import annotations

from .conftest import RunCli

RUN_ID = "manual__2024-02-01T00:00:00+00:00"


def test_states_by_run_id_and_by_logical_date(ready: RunCli) -> None:
    assert ready("dags", "trigger", "chain", "--logical-date", "2024-02-01").code == 0
    assert ready("dags", "state", "chain", RUN_ID).out == "queued\n"
    assert ready("dags", "state", "chain", "2024-02-01").out == "queued\n"
    assert ready("tasks", "state", "chain", "a", RUN_ID).out == "none\n"
    assert ready("tasks", "run", "chain", "a", RUN_ID).code == 0
    done = ready("tasks", "state", "chain", "a", "2024-02-01T00:00:00+00:00")
    assert (done.code, done.out) == (0, "success\n")


def test_unknown_dag_run_or_task_is_named(ready: RunCli) -> None:
    assert ready("dags", "trigger", "chain", "--logical-date", "2024-02-01").code == 0
    cases = {
        ("dags", "state", "nope", RUN_ID): "DAG 'nope' does not exist",
        ("dags", "state", "chain", "no_run"): "DAG run 'no_run' of DAG 'chain' does not exist",
        (
            "dags",
            "state",
            "chain",
            "2023-01-01",
        ): "DAG 'chain' has no run with run id or logical date '2023-01-01'",
        ("tasks", "state", "chain", "zzz", RUN_ID): "task 'zzz' not found in DAG 'chain'",
        ("tasks", "state", "nope", "a", RUN_ID): "DAG 'nope' does not exist",
    }
    for command, message in cases.items():
        result = ready(*command)
        assert (result.code, result.out, result.err) == (1, "", f"windvane: error: {message}\n"), command
