"""Every operator and sensor kind holds only what it changes (issue 15), and reads and serializes
as it did when each stored all its arguments: the serialized DAG and every task's own arguments
are pinned from the code before the change (``pinned/every_kind.json``, ``every_kind_args.json``).
"""

from __future__ import annotations

import json
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any

import pendulum

from windvane import (
    DAG,
    BranchDateTimeOperator,
    BranchDayOfWeekOperator,
    BranchPythonOperator,
    DateTimeSensor,
    EmailOperator,
    EmptyOperator,
    ExternalTaskSensor,
    FileSensor,
    HttpOperator,
    LatestOnlyOperator,
    PythonSensor,
    ShortCircuitOperator,
    SQLExecuteQueryOperator,
    TimeDeltaSensor,
    TriggerDagRunOperator,
    task,
)
from windvane.core.authoring.baseoperator import BaseOperator, _accepted_params
from windvane.core.authoring.operators.http_sensor import HttpSensor
from windvane.core.authoring.sensors.base import BaseSensorOperator
from windvane.core.authoring.serialize import serialize_dag

START = pendulum.datetime(2024, 1, 1, tz="UTC")
PINNED = Path(__file__).parent / "pinned"
#: BaseOperator's arguments (pinned by test_lean_operators) and those no attribute holds.
_NOT_OWN = frozenset(_accepted_params(BaseOperator)) | {"templates_exts", "doc", "default_args"}


def _check(response: Any) -> bool:
    return True


def _handler(cursor: Any) -> Any:
    return None


def _date_fn(logical_date: datetime, **context: Any) -> datetime:
    return logical_date


def _poke(**context: Any) -> bool:
    return True


def every_kind_dag() -> DAG:
    """One task of each kind with every argument of its own changed, and one keeping every default."""
    with DAG("every_kind", schedule="@daily", start_date=START, default_args={"retries": 1}) as dag:
        start = EmptyOperator(task_id="start")
        sensing = [
            PythonSensor(
                task_id="py_sensor",
                python_callable=_poke,
                op_args=[1],
                op_kwargs={"k": "{{ ds }}"},
                templates_dict={"t": "x"},
                poke_interval=timedelta(seconds=5),
                timeout=30,
                soft_fail=True,
                mode="reschedule",
                exponential_backoff=True,
                max_wait=20,
            ),
            PythonSensor(task_id="py_sensor_default", python_callable=_poke),
            FileSensor(task_id="file", filepath="/tmp/x", fs_conn_id="fs2", recursive=True, poke_interval=1),
            FileSensor(task_id="file_default", filepath="/tmp/y"),
            DateTimeSensor(task_id="dt", target_time=datetime(2024, 1, 2, tzinfo=pendulum.UTC)),
            DateTimeSensor(task_id="dt_str", target_time="{{ data_interval_end }}"),
            TimeDeltaSensor(task_id="delta", delta=timedelta(hours=1), mode="reschedule"),
            ExternalTaskSensor(
                task_id="ext",
                external_dag_id="other",
                external_task_ids=["a", "b"],
                allowed_states=["success", "skipped"],
                skipped_states=["upstream_failed"],
                failed_states=["failed"],
                execution_delta=timedelta(hours=1),
                check_existence=True,
            ),
            ExternalTaskSensor(
                task_id="ext_fn", external_dag_id="o", external_task_id="t", execution_date_fn=_date_fn
            ),
            ExternalTaskSensor(task_id="ext_group", external_dag_id="o", external_task_group_id="g"),
            ExternalTaskSensor(task_id="ext_default", external_dag_id="o"),
            HttpSensor(
                task_id="http_sensor",
                endpoint="/e",
                http_conn_id="h",
                method="POST",
                request_params={"q": 1},
                headers={"H": "v"},
                response_error_codes_allowlist=["404", "503"],
                response_check=_check,
                extra_options={"timeout": 3},
            ),
            HttpSensor(task_id="http_sensor_default", endpoint="/e"),
        ]
        acting = [
            BranchPythonOperator(task_id="branch", python_callable=_poke, op_args=[2]),
            ShortCircuitOperator(
                task_id="short",
                python_callable=_poke,
                ignore_downstream_trigger_rules=False,
                show_return_value_in_logs=False,
            ),
            ShortCircuitOperator(task_id="short_default", python_callable=_poke),
            EmailOperator(
                task_id="mail",
                to=["a@x.org", "b@x.org"],
                subject="s {{ ds }}",
                html_content="<p>",
                files=["/tmp/f"],
                cc="c@x.org",
                bcc=["d@x.org"],
                mime_subtype="alternative",
                mime_charset="us-ascii",
                conn_id="smtp2",
                from_email="f@x.org",
                custom_headers={"X": "1"},
            ),
            EmailOperator(task_id="mail_default", to="a@x.org", subject="s", html_content="h"),
            SQLExecuteQueryOperator(
                task_id="sql",
                conn_id="pg",
                sql=["select 1", "select 2"],
                parameters={"p": 1},
                autocommit=True,
                split_statements=True,
                handler=_handler,
                return_last=False,
                show_return_value_in_logs=True,
                database="db",
            ),
            SQLExecuteQueryOperator(task_id="sql_default", conn_id="pg", sql="select 1"),
            SQLExecuteQueryOperator(task_id="sql_nohandler", conn_id="pg", sql="select 1", handler=None),
            TriggerDagRunOperator(
                task_id="trigger",
                trigger_dag_id="other",
                trigger_run_id="r",
                conf={"c": 1},
                logical_date="{{ ds }}",
                reset_dag_run=True,
                wait_for_completion=True,
                poke_interval=5,
                allowed_states=["success", "failed"],
                failed_states=["queued"],
            ),
            TriggerDagRunOperator(task_id="trigger_default", trigger_dag_id="other"),
            HttpOperator(
                task_id="http",
                http_conn_id="h",
                endpoint="/p",
                method="PUT",
                data={"d": 1},
                headers={"H": "v"},
                response_check=_check,
                response_filter=_check,
                extra_options={"verify": False},
                log_response=True,
                http_retry_limit=5,
                http_retry_delay=2.5,
            ),
            HttpOperator(task_id="http_default"),
            LatestOnlyOperator(task_id="latest"),
            BranchDateTimeOperator(
                task_id="when",
                follow_task_ids_if_true=["a"],
                follow_task_ids_if_false="b",
                use_task_logical_date=True,
                target_lower=time(1),
                target_upper=None,
            ),
            BranchDateTimeOperator(
                task_id="when_default",
                follow_task_ids_if_true="a",
                follow_task_ids_if_false=["b"],
                target_lower=datetime(2024, 1, 1),
                target_upper=datetime(2024, 2, 1),
            ),
            BranchDayOfWeekOperator(
                task_id="weekday",
                follow_task_ids_if_true="a",
                follow_task_ids_if_false="b",
                week_day={0, 6},
            ),
        ]

        @task.sensor(poke_interval=7, timeout=70, mode="reschedule", soft_fail=True)
        def deco_sensor(x: int = 1) -> bool:
            return True

        @task.branch(multiple_outputs=False)
        def deco_branch() -> str:
            return "start"

        @task.short_circuit(ignore_downstream_trigger_rules=False)
        def deco_short() -> bool:
            return True

        @task.bash(env={"A": "1"}, cwd="/tmp")
        def deco_bash(word: str) -> str:
            return f"echo {word}"

        @task(multiple_outputs=True, retries=2)
        def deco(a: int, b: str = "b") -> dict[str, int]:
            return {"a": a}

        @task
        def deco_default() -> None:
            return None

        flows = [deco_sensor(), deco_branch(), deco_short(), deco_bash("hi"), deco(1, b="c"), deco_default()]
        start >> sensing >> acting[0]
        start >> acting[1:]
        acting[0] >> flows
    dag.fileloc = "/dags/every_kind.py"
    return dag


def _plain(value: Any) -> Any:
    """A stable, comparable form of an argument's value (functions by name, sets sorted)."""
    if callable(value) and hasattr(value, "__qualname__"):
        return f"<callable {value.__qualname__}>"
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted(_plain(v) for v in value)
    return repr(value)


def own_arguments(dag: DAG) -> dict[str, dict[str, Any]]:
    """Each task's own arguments (beyond BaseOperator's) as it reads them, and its class's."""
    result: dict[str, dict[str, Any]] = {}
    for task_id, op in sorted(dag.task_dict.items()):
        names = sorted((_accepted_params(type(op)) - _NOT_OWN) | {"template_ext", "owner_name"})
        result[task_id] = {
            "class": type(op).__name__,
            **{name: _plain(getattr(op, name)) for name in names if hasattr(op, name)},
        }
    return result


def test_the_serialized_form_of_every_kind_is_pinned() -> None:
    assert serialize_dag(every_kind_dag()).to_json() == (PINNED / "every_kind.json").read_text().strip()


def test_every_kind_reads_every_argument_as_pinned() -> None:
    pinned = json.loads((PINNED / "every_kind_args.json").read_text())
    assert own_arguments(every_kind_dag()) == pinned


#: What every task of the DAG above stores whatever its kind (``retries`` from its default_args).
_EVERY_TASK = {
    "_defaults_applied",
    "task_id",
    "dag",
    "defined_at",
    "upstream_task_ids",
    "downstream_task_ids",
}


def test_a_task_keeping_its_defaults_stores_only_its_required_arguments() -> None:
    dag = every_kind_dag()
    stored = {
        "py_sensor_default": {"python_callable"},
        "file_default": {"filepath"},
        "ext_default": {"external_dag_id"},
        "http_sensor_default": {"endpoint"},
        "short_default": {"python_callable"},
        "deco_default": {"python_callable"},
        "mail_default": {"to", "subject", "html_content"},
        "sql_default": {"conn_id", "sql", "handler"},
        "trigger_default": {"trigger_dag_id"},
        "http_default": set(),
    }
    for task_id, own in stored.items():
        assert set(vars(dag.task_dict[task_id])) - _EVERY_TASK - {"retries"} == own, task_id


def test_mutable_defaults_of_every_kind_belong_to_one_task() -> None:
    @task
    def flow() -> None:
        return None

    with DAG("mutable_kinds", schedule=None, start_date=START):
        sensors = [PythonSensor(task_id=f"s{i}", python_callable=_poke) for i in range(2)]
        mails = [
            EmailOperator(task_id=f"m{i}", to="a@x.org", subject="s", html_content="h") for i in range(2)
        ]
        triggers = [TriggerDagRunOperator(task_id=f"t{i}", trigger_dag_id="d") for i in range(2)]
        externals = [ExternalTaskSensor(task_id=f"e{i}", external_dag_id="d") for i in range(2)]
        checks = [HttpSensor(task_id=f"h{i}", endpoint="/") for i in range(2)]
        calls = [HttpOperator(task_id=f"o{i}") for i in range(2)]
        flows: list[Any] = [flow().operator for _ in range(2)]
    sensors[0].op_args.append(1)
    sensors[0].op_kwargs["k"] = 1
    mails[0].cc.append("c@x.org")
    mails[0].custom_headers["X"] = "1"
    triggers[0].conf["c"] = 1
    triggers[0].allowed_states.append("failed")
    externals[0].allowed_states.append("skipped")
    externals[0].failed_states.append("failed")
    checks[0].response_error_codes_allowlist.append("503")
    checks[0].headers["H"] = "v"
    calls[0].extra_options["verify"] = False
    flows[0].op_args.append(1)
    assert (sensors[1].op_args, sensors[1].op_kwargs, sensors[0].op_args) == ([], {}, [1])
    assert (mails[1].cc, mails[1].custom_headers, mails[0].cc) == ([], {}, ["c@x.org"])
    assert (triggers[1].conf, triggers[1].allowed_states) == ({}, ["success"])
    assert triggers[0].allowed_states == ["success", "failed"]
    assert (externals[1].allowed_states, externals[1].failed_states) == (["success"], [])
    assert (checks[1].response_error_codes_allowlist, checks[1].headers) == (["404"], {})
    assert (calls[1].extra_options, flows[1].op_args, flows[0].op_args) == ({}, [], [1])


class _QuickSensor(BaseSensorOperator):
    """A user's sensor with a default of its own, setting an attribute before the base ``__init__``."""

    poke_interval = 1.0

    def __init__(self, **kwargs: Any) -> None:
        self.mode = "reschedule"  # the base __init__ sets the argument's value over it, as it always did
        super().__init__(**kwargs)

    def poke(self, context: dict[str, Any]) -> bool:
        return True


def test_a_user_sensor_subclass_reads_what_it_was_given() -> None:
    with DAG("user_sensor", schedule=None, start_date=START):
        given = _QuickSensor(task_id="given", poke_interval=1, mode="reschedule")
        default = _QuickSensor(task_id="default")
    assert (given.poke_interval, given.mode, given.timeout) == (1.0, "reschedule", 7 * 86400.0)
    assert (default.poke_interval, default.mode) == (60.0, "poke")
    assert "poke_interval" not in vars(given) and "mode" in vars(given)
