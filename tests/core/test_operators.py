"""EmptyOperator, PythonOperator, BranchPythonOperator, ShortCircuitOperator and BashOperator."""

from __future__ import annotations

import logging
import os
import threading
import time
from functools import partial
from pathlib import Path
from typing import Any

import pendulum
import pytest

from windvane import testing
from windvane.core.authoring.dag import DAG
from windvane.core.authoring.operators.bash import BashOperator
from windvane.core.authoring.operators.empty import EmptyOperator
from windvane.core.authoring.operators.python import (
    BranchPythonOperator,
    PythonOperator,
    ShortCircuitOperator,
)
from windvane.core.authoring.taskgroup import TaskGroup
from windvane.core.model.states import TaskInstanceState as S
from windvane.core.model.trigger_rule import TriggerRule
from windvane.errors import InvalidBranchError, TaskCommandError, TaskSkipped, XComNotFoundError
from windvane.testing import MemoryXComs, run_dag_in_process

#: Every run here is the manual run of 2024-01-31 (its ``ds`` is what the assertions expect).
LOGICAL_DATE = pendulum.datetime(2024, 1, 31, tz="UTC")
RUN_ID = "manual__2024-01-31T00:00:00+00:00"
run_task = partial(testing.run_task, logical_date=LOGICAL_DATE)


def make_dag(dag_id: str = "ops", **kwargs: Any) -> DAG:
    kwargs.setdefault("start_date", pendulum.datetime(2024, 1, 1, tz="UTC"))
    kwargs.setdefault("schedule", None)
    return DAG(dag_id, **kwargs)


# -- EmptyOperator -------------------------------------------------------------------


def test_empty_operator_is_a_noop_task_of_the_dag() -> None:
    with make_dag() as dag:
        t = EmptyOperator(task_id="t")
    assert EmptyOperator.is_noop and not PythonOperator.is_noop
    assert dag.task_dict == {"t": t}
    assert run_task(t).result is None


def test_empty_operator_run_finishes_success_and_follows_trigger_rules() -> None:
    def boom() -> None:
        raise RuntimeError("boom")

    with make_dag() as dag:
        fail = PythonOperator(task_id="fail", python_callable=boom)
        fail >> EmptyOperator(task_id="after")
        fail >> EmptyOperator(task_id="cleanup", trigger_rule=TriggerRule.ALL_DONE)
    states = run_dag_in_process(dag, logical_date=LOGICAL_DATE).states
    assert states == {"fail": S.FAILED, "after": S.UPSTREAM_FAILED, "cleanup": S.SUCCESS}


# -- PythonOperator -------------------------------------------------------------------


def test_python_operator_passes_args_and_named_context_entries() -> None:
    seen: dict[str, Any] = {}

    def fn(x: int, y: int, *, z: int, ds: str, ti: Any, params: dict[str, Any]) -> int:
        seen.update(ds=ds, task_id=ti.task_id, params=params)
        return x + y + z

    with make_dag(params={"p": 1}):
        t = PythonOperator(task_id="t", python_callable=fn, op_args=[1, 2], op_kwargs={"z": 3})
    ran = run_task(t)
    assert ran.result == 6
    assert seen == {"ds": "2024-01-31", "task_id": "t", "params": {"p": 1}}
    assert pulled_return(ran) == 6


def pulled_return(ran: Any) -> Any:
    return ran.ti.xcom_pull()


def test_python_operator_with_var_kwargs_gets_the_whole_context_and_templates_dict() -> None:
    seen: dict[str, Any] = {}

    def fn(**kwargs: Any) -> None:
        seen.update(kwargs)

    with make_dag():
        t = PythonOperator(task_id="t", python_callable=fn, templates_dict={"day": "{{ ds_nodash }}"})
    run_task(t)
    assert seen["templates_dict"] == {"day": "20240131"}
    assert seen["run_id"] == RUN_ID
    assert seen["logical_date"] == LOGICAL_DATE
    assert {"ti", "dag", "task", "params", "ds"} <= set(seen)


def test_python_operator_templates_dict_as_named_parameter() -> None:
    def fn(templates_dict: dict[str, str]) -> str:
        return templates_dict["q"]

    with make_dag():
        t = PythonOperator(task_id="t", python_callable=fn, templates_dict={"q": "select '{{ ds }}'"})
    assert run_task(t).result == "select '2024-01-31'"


def test_python_operator_renders_op_args_and_op_kwargs() -> None:
    def fn(a: str, b: list[str], *, c: dict[str, str]) -> list[Any]:
        return [a, b, c]

    with make_dag():
        t = PythonOperator(
            task_id="t",
            python_callable=fn,
            op_args=["{{ ds }}", ["{{ task.task_id }}"]],
            op_kwargs={"c": {"run": "{{ run_id }}"}},
        )
    assert t.template_fields == ("templates_dict", "op_args", "op_kwargs")
    assert run_task(t).result == ["2024-01-31", ["t"], {"run": RUN_ID}]


def test_python_operator_templates_exts_replace_template_ext(tmp_path: Path) -> None:
    (tmp_path / "query.sql").write_text("select {{ ds_nodash }}")

    def fn(q: str) -> str:
        return q

    with make_dag(template_searchpath=str(tmp_path)):
        t = PythonOperator(task_id="t", python_callable=fn, op_args=["query.sql"], templates_exts=[".sql"])
        plain = PythonOperator(task_id="plain", python_callable=fn, op_args=["query.sql"])
    assert list(t.template_ext) == [".sql"]
    assert run_task(t).result == "select 20240131"
    assert run_task(plain).result == "query.sql"


def test_python_operator_logs_return_value_unless_told_not_to(caplog: pytest.LogCaptureFixture) -> None:
    with make_dag():
        shown = PythonOperator(task_id="shown", python_callable=lambda: "secret-1")
        hidden = PythonOperator(
            task_id="hidden", python_callable=lambda: "secret-2", show_return_value_in_logs=False
        )
    with caplog.at_level(logging.INFO, logger="windvane.task"):
        run_task(shown)
        run_task(hidden)
    assert "Returned value was: secret-1" in caplog.text
    assert "secret-2" not in caplog.text and "Returned value not shown" in caplog.text


def test_python_operator_output_xcom_arg_creates_dependency_and_resolves() -> None:
    with make_dag() as dag:
        produce = PythonOperator(task_id="produce", python_callable=lambda: {"rows": 3})
        consume = PythonOperator(
            task_id="consume",
            python_callable=lambda data, n: data["rows"] * n,
            op_kwargs={"data": produce.output, "n": 2},
        )
        missing = PythonOperator(
            task_id="missing", python_callable=lambda v: v, op_args=[produce.output["nope"]]
        )
    assert dag.task_dict["consume"].upstream_task_ids == {"produce"}
    assert missing.upstream_task_ids == {"produce"}
    xcoms = MemoryXComs()
    run_task(produce, xcoms)
    assert run_task(consume, xcoms).result == 6
    with pytest.raises(XComNotFoundError, match=r"'produce'.*'nope'"):
        run_task(missing, xcoms)


def test_python_callable_must_be_callable() -> None:
    with make_dag(), pytest.raises(Exception, match="python_callable must be callable"):
        PythonOperator(task_id="t", python_callable="not a function")  # type: ignore[arg-type]


# -- BranchPythonOperator ----------------------------------------------------------------


def branch_dag(choice: Any) -> tuple[DAG, BranchPythonOperator]:
    with make_dag("branching") as dag:
        branch = BranchPythonOperator(task_id="branch", python_callable=lambda: choice)
        a, b, c = (EmptyOperator(task_id=x) for x in "abc")
        branch >> [a, b, c]
        a >> EmptyOperator(task_id="after_a")
    return dag, branch


@pytest.mark.parametrize(
    ("choice", "skipped"),
    [
        ("a", {"b", "c"}),
        (["a", "b"], {"c"}),
        (("c",), {"a", "b"}),
        (None, {"a", "b", "c"}),
        ([], {"a", "b", "c"}),
    ],
)
def test_branch_skips_direct_downstream_tasks_not_chosen(choice: Any, skipped: set[str]) -> None:
    _, branch = branch_dag(choice)
    ran = run_task(branch)
    assert ran.ti.skip_task_ids == skipped
    assert ran.ti.xcom_pull() == (list(choice) if isinstance(choice, tuple) else choice)


def test_branch_to_task_that_is_not_direct_downstream_names_it() -> None:
    _, branch = branch_dag(["a", "after_a"])
    with pytest.raises(InvalidBranchError, match=r"'after_a'.*not directly downstream.*a, b, c"):
        run_task(branch)
    _, branch = branch_dag("nope")
    with pytest.raises(InvalidBranchError, match="'nope'"):
        run_task(branch)


def test_branch_return_of_wrong_type_fails() -> None:
    _, branch = branch_dag(3)
    with pytest.raises(InvalidBranchError, match="must return task ids"):
        run_task(branch)


def test_branch_keeps_a_join_that_is_downstream_of_the_chosen_task() -> None:
    with make_dag() as dag:
        branch = BranchPythonOperator(task_id="branch", python_callable=lambda: "a")
        a, b = EmptyOperator(task_id="a"), EmptyOperator(task_id="b")
        join = EmptyOperator(task_id="join", trigger_rule=TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS)
        branch >> [a, b, join]
        a >> join
    assert run_task(branch).ti.skip_task_ids == {"b"}
    states = run_dag_in_process(dag, logical_date=LOGICAL_DATE).states
    assert states == {"branch": S.SUCCESS, "a": S.SUCCESS, "b": S.SKIPPED, "join": S.SUCCESS}


def test_branch_to_task_group_follows_the_group_roots() -> None:
    with make_dag() as dag:
        branch = BranchPythonOperator(task_id="branch", python_callable=lambda: "g")
        with TaskGroup("g") as g:
            r1, r2, inner = (EmptyOperator(task_id=x) for x in ("r1", "r2", "inner"))
            [r1, r2] >> inner
        other = EmptyOperator(task_id="other")
        branch >> [g, other]
    assert run_task(branch).ti.skip_task_ids == {"other"}
    states = run_dag_in_process(dag, logical_date=LOGICAL_DATE).states
    assert states["other"] is S.SKIPPED
    assert {states[t] for t in ("g.r1", "g.r2", "g.inner")} == {S.SUCCESS}


def test_branch_run_skips_the_unchosen_path_recursively_through_trigger_rules() -> None:
    dag, _ = branch_dag("b")
    result = run_dag_in_process(dag, logical_date=LOGICAL_DATE)
    states, xcoms = result.states, result.xcoms
    assert states == {
        "branch": S.SUCCESS,
        "a": S.SKIPPED,
        "b": S.SUCCESS,
        "c": S.SKIPPED,
        "after_a": S.SKIPPED,
    }
    assert xcoms.value("branch") == "b"


# -- ShortCircuitOperator -------------------------------------------------------------------


def short_circuit_dag(value: Any, **kwargs: Any) -> tuple[DAG, ShortCircuitOperator]:
    with make_dag("sc") as dag:
        check = ShortCircuitOperator(task_id="check", python_callable=lambda: value, **kwargs)
        d1 = EmptyOperator(task_id="d1")
        d2 = EmptyOperator(task_id="d2", trigger_rule=TriggerRule.ALL_DONE)
        d3 = EmptyOperator(task_id="d3")
        other = EmptyOperator(task_id="other")
        check >> d1 >> d2 >> d3
        other >> d2
    return dag, check


@pytest.mark.parametrize("value", [False, None, 0, "", []])
def test_short_circuit_falsy_skips_everything_downstream(value: Any) -> None:
    dag, check = short_circuit_dag(value)
    ran = run_task(check)
    assert ran.ti.skip_task_ids == {"d1", "d2", "d3"}
    assert ran.result == value
    states = run_dag_in_process(dag, logical_date=LOGICAL_DATE).states
    assert states == {
        "check": S.SUCCESS,
        "d1": S.SKIPPED,
        "d2": S.SKIPPED,
        "d3": S.SKIPPED,
        "other": S.SUCCESS,
    }


def test_short_circuit_respecting_trigger_rules_skips_only_direct_downstream() -> None:
    dag, check = short_circuit_dag(False, ignore_downstream_trigger_rules=False)
    assert run_task(check).ti.skip_task_ids == {"d1"}
    states = run_dag_in_process(dag, logical_date=LOGICAL_DATE).states
    # d2 is all_done, so it runs after the skipped d1; d3 follows d2.
    assert states == {
        "check": S.SUCCESS,
        "d1": S.SKIPPED,
        "d2": S.SUCCESS,
        "d3": S.SUCCESS,
        "other": S.SUCCESS,
    }


def test_short_circuit_truthy_skips_nothing_and_returns_the_value() -> None:
    _, check = short_circuit_dag({"go": 1})
    ran = run_task(check)
    assert ran.ti.skip_task_ids == set()
    assert ran.result == {"go": 1}


# -- BashOperator -------------------------------------------------------------------------


def bash(command: str, **kwargs: Any) -> BashOperator:
    with make_dag("bash_dag", template_searchpath=kwargs.pop("template_searchpath", None)):
        return BashOperator(task_id=kwargs.pop("task_id", "sh"), bash_command=command, **kwargs)


def test_bash_returns_last_output_line_as_xcom(caplog: pytest.LogCaptureFixture) -> None:
    task = bash("echo first; echo oops >&2; echo last")
    with caplog.at_level(logging.INFO, logger="windvane.task"):
        ran = run_task(task)
    assert ran.result == "last"
    assert ran.ti.xcom_pull() == "last"
    assert [r.getMessage() for r in caplog.records if r.getMessage() in ("first", "oops", "last")] == [
        "first",
        "oops",
        "last",
    ]


def test_bash_without_output_returns_empty_string_and_do_xcom_push_false_pushes_nothing() -> None:
    assert run_task(bash("true")).result == ""
    assert run_task(bash("echo x", do_xcom_push=False)).ti.pushed == {}


def test_bash_non_zero_exit_fails_naming_task_and_code() -> None:
    with pytest.raises(TaskCommandError, match=r"'sh'.*exit code 3") as info:
        run_task(bash("echo partial; exit 3"))
    assert info.value.exit_code == 3


@pytest.mark.parametrize(
    ("command", "kwargs", "skipped"),
    [
        ("exit 99", {}, True),
        ("exit 4", {"skip_on_exit_code": [3, 4]}, True),
        ("exit 5", {"skip_on_exit_code": 5}, True),
        ("exit 99", {"skip_on_exit_code": None}, False),
        ("exit 98", {}, False),
    ],
)
def test_bash_skip_on_exit_code(command: str, kwargs: dict[str, Any], skipped: bool) -> None:
    expected = TaskSkipped if skipped else TaskCommandError
    with pytest.raises(expected, match="exit code"):
        run_task(bash(command, **kwargs))


def test_bash_env_replaces_environment_unless_append_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WV_OUTER", "outer")
    command = 'echo "${WV_OUTER:-unset}/${FOO:-unset}"'
    assert run_task(bash(command, env={"FOO": "bar"})).result == "unset/bar"
    assert run_task(bash(command, env={"FOO": "bar"}, append_env=True)).result == "outer/bar"
    assert run_task(bash(command)).result == "outer/unset"


def test_bash_env_has_windvane_context_variables() -> None:
    command = (
        'echo "$WINDVANE_CTX_DAG_ID|$WINDVANE_CTX_TASK_ID|$WINDVANE_CTX_RUN_ID|$WINDVANE_CTX_TRY_NUMBER"'
    )
    ran = run_task(bash(command, env={}, task_id="ctx"), try_number=2)
    assert ran.result == f"bash_dag|ctx|{RUN_ID}|2"


def test_bash_env_is_templated_and_values_must_be_strings() -> None:
    assert run_task(bash("echo $DAY", env={"DAY": "{{ ds }}"})).result == "2024-01-31"
    with pytest.raises(TaskCommandError, match=r"env values must be strings.*'N'"):
        run_task(bash("echo $N", env={"N": 1}))


def test_bash_cwd(tmp_path: Path) -> None:
    assert run_task(bash("pwd", cwd=str(tmp_path))).result == str(tmp_path)
    default = run_task(bash("pwd")).result
    assert default != os.getcwd() and "windvanetmp" in default
    assert not os.path.exists(default)  # the temporary directory is removed afterwards
    with pytest.raises(TaskCommandError, match="does not exist"):
        run_task(bash("pwd", cwd=str(tmp_path / "missing")))
    (tmp_path / "file").write_text("")
    with pytest.raises(TaskCommandError, match="is not a directory"):
        run_task(bash("pwd", cwd=str(tmp_path / "file")))


def test_bash_command_is_templated_and_script_files_are_rendered(tmp_path: Path) -> None:
    assert run_task(bash("echo {{ ds }} {{ task.task_id }}")).result == "2024-01-31 sh"
    (tmp_path / "job.sh").write_text("echo script {{ ds_nodash }}\n")
    task = bash("job.sh", template_searchpath=str(tmp_path))
    assert BashOperator.template_fields == ("bash_command", "env", "cwd")
    assert BashOperator.template_ext == (".sh", ".bash")
    assert run_task(task).result == "script 20240131"


def test_bash_output_decoding_keeps_bad_bytes_visible() -> None:
    assert run_task(bash(r"printf 'caf\xe9\n'")).result == "caf\\xe9"
    assert run_task(bash(r"printf 'caf\xe9\n'", output_encoding="latin-1")).result == "café"


def test_bash_on_kill_terminates_the_process_group() -> None:
    task = bash("sleep 30 & sleep 30; echo never")
    errors: list[BaseException] = []

    def target() -> None:
        try:
            run_task(task)
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=target)
    started = time.monotonic()
    thread.start()
    while task._process is None and time.monotonic() - started < 5:
        time.sleep(0.01)
    time.sleep(0.2)
    process = task._process
    assert process is not None
    task.on_kill()
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert time.monotonic() - started < 10
    assert len(errors) == 1 and isinstance(errors[0], TaskCommandError)
    deadline = time.monotonic() + 5
    while _live_group_members(process.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _live_group_members(process.pid) == []  # the background sleep was killed too


def _live_group_members(pgid: int) -> list[int]:
    """Pids in process group ``pgid`` that are not zombies (Linux /proc)."""
    live = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[2]) == pgid and fields[0] != "Z":
            live.append(int(entry.name))
    return live
