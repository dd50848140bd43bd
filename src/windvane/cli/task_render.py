"""``windvane tasks render``: a task's templated fields as a run would render them, secrets masked.

Airflow's ``tasks render``: the DAG file is imported here and each field in the task's
``template_fields`` is rendered against the context of a manual run at the logical date (the
same context ``tasks test`` builds; XCom pulls find nothing). Connections and Variables are read
through the configured secrets backends, and every secret they hand out is shown as ``***``.
"""

from __future__ import annotations

import argparse
import copy

import pendulum

from windvane.cli.args import to_datetime
from windvane.cli.base import EXIT_OK, Cli
from windvane.cli.dag_files import load_dag
from windvane.core.model.states import DagRunType
from windvane.core.task_api.context import RunInfo, build_context, params_for_run
from windvane.core.task_api.masking import redact
from windvane.core.task_api.task_instance import NoXComs, RuntimeTaskInstance
from windvane.core.task_api.templating import render_template_fields
from windvane.core.worker.inputs import jinja_env_for


def render_task(cli: Cli, args: argparse.Namespace) -> int:
    dag = load_dag(cli.settings, args.dag_id)
    task = dag.get_task(args.task_id)
    now = pendulum.now("UTC")
    tz = cli.settings.core.default_timezone
    logical = (to_datetime(args.logical_date, tz) if args.logical_date else now).in_timezone("UTC")
    interval = dag.timetable.infer_manual_data_interval(run_after=logical)
    run_id = DagRunType.MANUAL.run_id(logical.isoformat())
    run = RunInfo(
        dag_id=dag.dag_id, run_id=run_id, run_type=DagRunType.MANUAL.value, logical_date=logical,
        data_interval_start=interval.start, data_interval_end=interval.end, start_date=now,
    )  # fmt: skip
    ti = RuntimeTaskInstance(dag_id=dag.dag_id, task_id=task.task_id, run_id=run_id, reader=NoXComs())
    context = build_context(
        run=run, dag=dag, task=task, ti=ti, params=params_for_run(dag.params, task.params, None)
    )
    rendered = copy.copy(task)  # the fields are set on a copy: the DAG's task stays as written
    owner = f"task {task.task_id!r} in DAG {dag.dag_id!r}"
    render_template_fields(
        rendered,
        task.template_fields,
        context,
        jinja_env_for(dag),
        template_ext=task.template_ext,
        owner=owner,
    )
    for name in task.template_fields:
        cli.out.line(f"# {name}")
        cli.out.line(redact(str(getattr(rendered, name))))
    return EXIT_OK
