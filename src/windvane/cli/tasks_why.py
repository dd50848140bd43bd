"""``windvane tasks why DAG TASK RUN_ID [--json]``: why a task instance is not running (yet).

The answer comes from :func:`windvane.core.store.why.explain_task_instance`, which
applies the scheduler's own readiness rules to what the database holds; the API
serves the same answer. Exit 0 with the answer (whatever it says), 1 for an
unknown DAG, task or run. Its arguments are in :mod:`windvane.cli.parser.tasks`.
"""

from __future__ import annotations

import argparse

import pendulum

from windvane.cli.base import EXIT_OK, Cli
from windvane.cli.wiring import open_engine
from windvane.core.model.why_types import Explanation
from windvane.core.store.engine import begin_read
from windvane.core.store.why import explain_task_instance


def explain_command(cli: Cli, args: argparse.Namespace) -> int:
    with open_engine(cli.settings) as engine, begin_read(engine) as conn:
        answer = explain_task_instance(
            conn,
            args.dag_id,
            args.task_id,
            args.run_id,
            now=pendulum.now("UTC"),
            scheduler_threshold=cli.settings.scheduler.health_check_threshold_seconds,
            parallelism=cli.settings.core.parallelism,
        )
    if args.json:
        cli.out.json(answer.to_dict())
    else:
        for line in render(answer):
            cli.out.line(line)
    return EXIT_OK


def render(answer: Explanation) -> list[str]:
    """The answer as lines of text: a headline, then each reason with its details."""
    lines = [
        f"{answer.dag_id}.{answer.task_id} in {answer.run_id}: {answer.state} ({answer.verdict.value})",
        "",
    ]
    if not answer.reasons:
        lines.append(f"  {answer.summary}")
    for reason in answer.reasons:
        lines.append(f"  [{reason.code.value}] {reason.message}")
        for holder in reason.details.get("holders", ()):
            lines.append(
                f"      holds {holder['pool_slots']} slot(s): {holder['dag_id']}.{holder['task_id']} "
                f"in {holder['run_id']} ({holder['state']})"
            )
        unlisted = reason.details.get("holders_total", 0) - len(reason.details.get("holders", ()))
        if unlisted > 0:
            lines.append(f"      and {unlisted} more task instance(s)")
        for upstream in reason.details.get("upstream", ()):
            lines.append(f"      upstream {upstream['task_id']}: {upstream['state']}")
    return lines
