"""``windvane celery worker``: its arguments (handler in :mod:`windvane.cli.celery_worker`)."""

from __future__ import annotations

import argparse

from windvane.cli.args import positive_int
from windvane.cli.base import Subparsers, add_command, add_group


def register(commands: Subparsers) -> None:
    group = add_group(commands, "celery", "Run Celery workers for the celery executor.")
    worker = add_command(
        group,
        "worker",
        "windvane.cli.celery_worker:_worker",
        "Run a Celery worker that runs Windvane task tries.",
    )
    worker.add_argument(
        "--queues",
        type=queue_list,
        default=(),
        help="Comma-separated Celery queues to consume (default: [celery] default_queue).",
    )
    worker.add_argument(
        "--concurrency", type=positive_int, help="Tries run at once (default: [celery] worker_concurrency)."
    )


def queue_list(text: str) -> tuple[str, ...]:
    """``a,b`` -> ``("a", "b")``; a list naming no queue is a usage error."""
    queues = tuple(q.strip() for q in text.split(",") if q.strip())
    if not queues:
        raise argparse.ArgumentTypeError(f"no queue named in {text!r}")
    return queues
