"""The ``[celery]`` section: the Celery executor and its workers (apart from :mod:`._sections` for size)."""

from __future__ import annotations

from dataclasses import dataclass

from windvane.settings._kinds import Between, Within, setting

_PROCESSES = Between(1, 1024)
_TIMEOUT = Within(0, 7 * 86_400)  # as in _sections: how long to wait for something, at most a week


@dataclass(frozen=True)
class CelerySettings:
    """The Celery executor (``executor = "celery"``, the ``windvane[celery]`` extra) and its workers."""

    broker_url: str = setting(
        "redis://127.0.0.1:6379/0",
        "Where tries are queued: a Redis (redis://) or RabbitMQ (amqp://) URL. A Redis broker must "
        "persist (appendonly yes) or a restart loses the tries queued in it.",
    )
    result_backend: str = setting(
        "redis://127.0.0.1:6379/1",
        "Where workers report a try's start and end to the scheduler: a Redis URL (or a Celery "
        "db+ URL); the rpc:// backend is refused (a restarted scheduler could not read it).",
    )
    worker_concurrency: int = setting(
        4, "Tries one `windvane celery worker` runs at once (its pool processes).", check=_PROCESSES
    )
    tries_per_process: int = setting(
        100,
        "Tries of one DAG file a Celery worker's pool process runs in one forked process, one after "
        "the other (1: a fork per try). As [executor] tries_per_process for local workers: each try "
        "gets a copy of its task, its own log and supervision; the process is replaced after a try "
        "that leaves a thread or process running, changes os.environ or the working directory, or "
        "rebinds a global of its DAG file; isolated=True tasks and a per-try memory limit or "
        'process_containment = "cgroup" keep a fork per try. A try\'s CPU falls by more than half '
        "(a pool process is a big process to fork).",
        check=Between(1, 100_000),
    )
    send_ahead: bool = setting(
        False,
        "Keep up to twice [core] parallelism tries on the broker, so a pool process that ends a try "
        "finds its next one at once. Off by default: tries waiting on the broker can then run at "
        "once on workers whose total concurrency exceeds parallelism.",
    )
    default_queue: str = setting(
        "default",
        "The Celery queue of tasks whose `queue` is 'default' (the operator's default), and the "
        "queue `windvane celery worker` consumes without --queues.",
    )
    visibility_timeout: float = setting(
        3600.0,
        "Redis broker: seconds before a try's message not yet acknowledged (workers acknowledge "
        "after the try) is delivered again. Make it longer than your longest task; a second "
        "delivery is harmless (the claim guard ignores it) but waits this long after a worker dies.",
        check=_TIMEOUT,
    )
    prometheus_port: int = setting(
        9466,
        "Port of a Celery worker's Prometheus endpoint (when [metrics] prometheus_on); 0 lets the "
        "system pick one (several workers on one host).",
        check=Between(0, 65535),
    )
    worker_hostname: str = setting(
        "",
        "The host name a worker records for the tries it runs (the task instance's hostname, the "
        "journal), where `windvane tasks logs` and the API fetch their logs; empty: the machine's "
        "host name. Set an address the scheduler's and API's hosts can reach if that name does not "
        "resolve there.",
    )
    worker_log_server_port: int = setting(
        8793,
        "Port on which each `windvane celery worker` serves its log folder (read-only, signed "
        "requests only) and on which readers fetch a try's log from the worker that ran it; 0: the "
        "worker serves no logs.",
        check=Between(0, 65535),
    )
    worker_log_server_host: str = setting(
        "0.0.0.0",
        "Address the worker's log server binds to (0.0.0.0: every interface; 127.0.0.1: this machine only).",
    )
    worker_log_server_secret: str = setting(
        "",
        "Shared secret (masked) that signs log requests; the same on the workers and on every "
        "host that reads logs. Empty: workers serve no logs and readers cannot fetch them (share "
        "the log folder instead).",
    )
    worker_log_fetch_timeout_seconds: float = setting(
        5.0,
        "How long a reader waits for a worker's log server to answer one request.",
        check=Within(0, 300),
    )
