"""``windvane celery worker``: a Celery worker whose pool processes run Windvane tries.

One worker = one main process (talks to the broker, acknowledges messages
after the try: late ack) and ``concurrency`` prefork pool processes, each warmed
up once (:func:`windvane.celery.task.warm_process`) and forking a child per try
or, with ``[celery] tries_per_process`` above 1, a try host per DAG file, like a
LocalExecutor worker. The worker writes task logs under its own
``[logging] base_log_folder`` (a folder the scheduler host shares, see
docs/scaling.md) and heartbeats every running try to the database.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable, Sequence

from celery import Celery, signals

from windvane.celery.app import TASK_NAME, make_app
from windvane.celery.config import CeleryConfig
from windvane.celery.task import (
    WorkerOptions,
    begin_stopping,
    close_process,
    configure,
    run_try,
    warm_process,
)

log = logging.getLogger(__name__)


def worker_app(config: CeleryConfig, options: WorkerOptions) -> Celery:
    """The app of a worker: ``windvane.run_try`` registered, pool processes warmed on start."""
    app = make_app(config, worker=True)
    # The try reports its events itself (windvane.celery.reporting): Celery stores only a failure.
    app.task(name=TASK_NAME, bind=True, acks_late=True, reject_on_worker_lost=True, ignore_result=True)(
        run_try
    )
    configure(options)
    signals.worker_process_init.connect(warm_process, weak=False)
    signals.worker_process_shutdown.connect(close_process, weak=False)
    signals.worker_shutting_down.connect(begin_stopping, weak=False)
    return app


def run_worker(
    config: CeleryConfig,
    options: WorkerOptions,
    *,
    queues: Sequence[str] = (),
    concurrency: int | None = None,
    loglevel: str = "INFO",
    on_ready: Callable[[Celery], None] | None = None,
    on_pool_process: Callable[[], None] | None = None,
) -> int:
    """Run a worker until it is stopped (SIGTERM: warm shutdown, the tries in hand finish first).

    ``queues`` defaults to ``[celery] default_queue``; ``concurrency`` to
    ``[celery] worker_concurrency``; ``on_pool_process`` runs first in each pool process started.
    Returns the worker's exit code.
    """
    app = worker_app(config, options)
    if on_ready is not None:
        signals.worker_ready.connect(lambda **_: on_ready(app), weak=False)
    if on_pool_process is not None:
        signals.worker_process_init.connect(lambda **_: on_pool_process(), weak=False)
    worker = app.Worker(
        queues=list(queues) or [config.default_queue],
        concurrency=concurrency or config.worker_concurrency,
        pool="prefork",
        hostname=f"windvane-{os.getpid()}@{socket.gethostname()}",
        loglevel=loglevel,
        without_gossip=True,
        without_mingle=True,
        # Celery's own worker heartbeats are events (a publish that blocks the worker's loop while the
        # broker is down); Windvane heartbeats each try in the database instead.
        without_heartbeat=True,
        optimization="fair",
    )
    worker.start()
    return int(worker.exitcode or 0)
