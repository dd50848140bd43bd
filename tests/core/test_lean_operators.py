"""Operators hold only what they change (issue 15, worker RSS in one DAG's size).

Defaults live on the operator class and mutable ones are made per task when first read
(:mod:`windvane.core.authoring.per_instance`); what a task reads, copies and serializes is what it
was when every task stored all forty of its arguments.
"""

from __future__ import annotations

import copy
import gc
import tracemalloc
from datetime import timedelta
from pathlib import Path
from typing import Any

import pendulum

from windvane import DAG, BashOperator, EmptyOperator, PythonOperator, TaskGroup, task
from windvane.core.authoring.baseoperator import BaseOperator
from windvane.core.authoring.serialize import serialize_dag

START = pendulum.datetime(2024, 1, 1, tz="UTC")
PINNED = Path(__file__).parent / "pinned" / "every_argument.json"


def _callback(context: dict[str, Any]) -> None:
    return None


def _every_argument_dag() -> DAG:
    """A DAG whose tasks give every BaseOperator argument (and the operators' own) a non-default
    value, through the call, default_args and a task group's default_args, beside tasks that keep
    every default."""
    with DAG(
        "every_argument",
        schedule="@daily",
        start_date=START,
        default_args={"owner": "ann", "retries": 1, "email": "a@example.com", "queue": "etl"},
        params={"n": 1},
    ) as dag:
        plain = EmptyOperator(task_id="plain")
        full = PythonOperator(
            task_id="full",
            python_callable=print,
            op_args=[1, "{{ ds }}"],
            op_kwargs={"k": "v"},
            templates_dict={"t": "{{ ds }}"},
            show_return_value_in_logs=False,
            owner="bob",
            email=["x@example.com", "y@example.com"],
            email_on_failure=False,
            email_on_retry=False,
            retries=7,
            retry_delay=45,
            retry_exponential_backoff=True,
            max_retry_delay=timedelta(hours=2),
            execution_timeout=timedelta(minutes=3),
            trigger_rule="all_done",
            pool="p",
            pool_slots=3,
            priority_weight=9,
            weight_rule="absolute",
            depends_on_past=True,
            max_active_tis_per_dag=2,
            queue="q",
            sla=timedelta(minutes=30),
            start_date=pendulum.datetime(2024, 2, 1, tz="Europe/Amsterdam"),
            end_date=pendulum.datetime(2030, 1, 1, tz="UTC"),
            params={"m": 2},
            do_xcom_push=False,
            isolated=True,
            on_failure_callback=_callback,
            on_success_callback=[_callback],
            on_retry_callback=_callback,
            on_execute_callback=_callback,
            on_skipped_callback=_callback,
            doc_md="# full",
        )
        with TaskGroup("g", default_args={"retries": 4, "pool": "gp", "owner": "windvane"}):
            shell = BashOperator(
                task_id="shell",
                bash_command="echo {{ ds }}",
                env={"A": "1"},
                append_env=True,
                output_encoding="latin-1",
                skip_on_exit_code=[3, 4],
                cwd="/tmp",
                weight_rule="upstream",
                doc="a doc",
            )
            default_shell = BashOperator(task_id="default_shell", bash_command="true")

        @task(retries=3, multiple_outputs=True)
        def flow(x: int = 1) -> dict[str, int]:
            return {"x": x}

        plain >> [full, shell] >> default_shell >> flow()
    dag.fileloc = "/dags/every_argument.py"  # the pinned form must not name this checkout
    return dag


def test_the_serialized_form_of_every_argument_is_pinned() -> None:
    assert serialize_dag(_every_argument_dag()).to_json() == PINNED.read_text().strip()


def test_a_task_reads_every_default_and_every_value_it_was_given() -> None:
    dag = _every_argument_dag()
    plain, full, shell = dag.task_dict["plain"], dag.task_dict["full"], dag.task_dict["g.shell"]
    assert (plain.owner, plain.retries, plain.email, plain.queue) == ("ann", 1, "a@example.com", "etl")
    assert (plain.pool, plain.pool_slots, plain.retry_delay, plain.sla) == (
        "default_pool", 1, timedelta(seconds=300), None,
    )  # fmt: skip
    assert (plain.params, plain.on_failure_callback, plain.doc_md, plain.isolated) == ({}, None, None, False)
    assert (full.retry_delay, full.params, full.op_args, full.op_kwargs) == (
        timedelta(seconds=45), {"m": 2}, [1, "{{ ds }}"], {"k": "v"},
    )  # fmt: skip
    assert (shell.retries, shell.pool, shell.owner, shell.doc_md) == (4, "gp", "windvane", "a doc")
    assert (shell.env, shell.skip_on_exit_code, shell.cwd) == ({"A": "1"}, [3, 4], "/tmp")
    bare = dag.task_dict["g.default_shell"]
    assert (bare.env, bare.skip_on_exit_code, bare.append_env) == (None, [99], False)


def test_mutable_defaults_belong_to_one_task() -> None:
    with DAG("mutables", schedule=None, start_date=START):
        a = PythonOperator(task_id="a", python_callable=print)
        b = PythonOperator(task_id="b", python_callable=print)
        c = BashOperator(task_id="c", bash_command="true")
        d = BashOperator(task_id="d", bash_command="true")
    a.params["x"] = 1
    a.op_args.append(1)
    a.op_kwargs["k"] = 2
    a.upstream_task_ids.add("elsewhere")
    c.skip_on_exit_code.append(5)  # type: ignore[attr-defined]
    assert (b.params, b.op_args, b.op_kwargs, b.upstream_task_ids) == ({}, [], {}, set())
    assert d.skip_on_exit_code == [99] and c.skip_on_exit_code == [99, 5]
    assert a.params == {"x": 1} and a.upstream_task_ids == {"elsewhere"}


def test_a_copy_is_the_task_and_changing_it_leaves_the_task_alone() -> None:
    dag = _every_argument_dag()
    for original in dag.tasks:
        twin = copy.copy(original)
        for name in ("task_id", "owner", "retries", "params", "upstream_task_ids", "trigger_rule", "dag"):
            assert getattr(twin, name) == getattr(original, name), name
    full = dag.task_dict["full"]
    twin = copy.copy(full)
    twin.op_kwargs = {"rendered": True}
    twin.retries = 0
    assert full.op_kwargs == {"k": "v"} and full.retries == 7


class _Custom(BaseOperator):
    """A user's operator: attributes of its own, one of them set before BaseOperator's __init__."""

    def __init__(self, *, size: int = 1, **kwargs: Any) -> None:
        self.retries = 5  # overwritten by BaseOperator's __init__, as before
        self.size = size
        super().__init__(**kwargs)
        self.note = f"size {size}"

    def execute(self, context: dict[str, Any]) -> Any:
        self.seen = context
        return self.size


def test_a_user_subclass_keeps_its_own_attributes_and_the_base_values_win() -> None:
    with DAG("custom", schedule=None, start_date=START, default_args={"retries": 0}):
        op = _Custom(task_id="c", size=3)
    assert (op.size, op.note, op.retries, op.owner, op.params) == (3, "size 3", 0, "windvane", {})
    assert op.execute({}) == 3 and op.seen == {}


def _bytes_per_task(width: int) -> float:
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        with DAG("wide", schedule=None, start_date=START, default_args={"owner": "ann", "retries": 2}) as dag:
            start, end = EmptyOperator(task_id="start"), EmptyOperator(task_id="end")
            start >> [PythonOperator(task_id=f"t{i}", python_callable=print) for i in range(width)] >> end
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    return held / len(dag.task_dict)


def test_a_wide_dag_holds_about_a_kilobyte_per_task() -> None:
    # 2,500 bytes per task when every task stored its forty arguments in a dictionary of its own;
    # ~800 now, the upstream and downstream sets (216 bytes each) the largest part.
    assert _bytes_per_task(3_000) < 1_200
