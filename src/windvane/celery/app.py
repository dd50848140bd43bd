"""The Celery app of the executor and of its workers, configured from :class:`CeleryConfig`.

Both sides build the same app, so they agree on what makes delivery safe:

* ``task_acks_late`` with ``task_reject_on_worker_lost``: a message is
  acknowledged only after the try's final state is written; a worker that dies
  mid-try leaves it unacknowledged and the broker delivers it again (RabbitMQ at
  once, Redis after ``visibility_timeout``). The worker that gets it again finds
  the try already claimed and ignores it (the claim guard), so a try never runs
  twice; the try itself is failed (or retried) by the scheduler's zombie sweep
  when its heartbeats stop.
* ``worker_prefetch_multiplier = 1``: a worker holds one message per free pool
  process, so a long try does not hold others hostage.
* JSON only (``accept_content``), no remote control, no task events: the
  scheduler reads results, not events.
"""

from __future__ import annotations

from celery import Celery

from windvane.celery.config import RESULT_EXPIRES_SECONDS, CeleryConfig

#: The one Celery task Windvane sends: run one try (:mod:`windvane.celery.task`).
TASK_NAME = "windvane.run_try"


def make_app(config: CeleryConfig, *, worker: bool = False) -> Celery:
    """A Celery app for ``config`` (not the current app: a process may hold several).

    A ``worker``'s app retries storing a result until the backend answers (a restart); the
    executor's never retries a read (the scheduler loop must not block: it reads again later).
    """
    app = Celery("windvane", broker=config.broker_url, backend=config.result_backend, set_as_current=False)
    transport_options: dict[str, object] = {}
    if config.broker_is_redis:
        transport_options["visibility_timeout"] = config.visibility_timeout
    if not worker:  # the publisher thread retries with a back-off of its own; a send must fail fast
        transport_options["max_retries"] = 1
    app.conf.update(
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        result_accept_content=["json"],
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_acks_on_failure_or_timeout=True,
        worker_prefetch_multiplier=1,
        task_default_queue=config.default_queue,
        task_create_missing_queues=True,
        result_expires=RESULT_EXPIRES_SECONDS,
        task_store_errors_even_if_ignored=True,  # the try writes its own reports; a crash is Celery's
        result_backend_always_retry=worker,
        result_backend_max_retries=1_000_000,
        result_backend_max_sleep_between_retries_ms=2_000,
        broker_transport_options=transport_options,
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None if worker else 1,
        broker_connection_timeout=4.0,
        worker_enable_remote_control=False,
        worker_send_task_events=False,
        task_send_sent_event=False,
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,
        worker_cancel_long_running_tasks_on_connection_loss=False,
        enable_utc=True,
    )
    return app
