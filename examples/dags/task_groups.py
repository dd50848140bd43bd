"""Task groups: prefixed ids, nested groups, and groups on either side of >>."""

from __future__ import annotations

import pendulum

from windvane import DAG, BashOperator, EmptyOperator, TaskGroup

with DAG(
    "task_groups",
    description="Ingest two sources in a group with nested quality checks, then publish",
    schedule="@hourly",
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    tags=["example"],
) as dag:
    begin = EmptyOperator(task_id="begin")
    with TaskGroup("ingest") as ingest:
        for source in ("crm", "billing"):
            with TaskGroup(source):
                fetch = BashOperator(task_id="fetch", bash_command=f"echo fetching {source} for {{{{ ds }}}}")
                check = BashOperator(task_id="check", bash_command=f"test -n '{source}' && echo {source} ok")
                fetch >> check
    publish = BashOperator(task_id="publish", bash_command="echo publishing {{ run_id }}")
    begin >> ingest >> publish
