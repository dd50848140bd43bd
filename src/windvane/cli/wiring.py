"""Building Windvane's parts from :class:`~windvane.settings.Settings`: the only place settings
are mapped onto constructors.

* :func:`apply_authoring_defaults` — the time zone of naive dates and the
  default ``catchup`` DAG files are read with; called before any DAG file is
  imported (the CLI does it right after loading the settings).
* :func:`install_task_settings` — the ``[smtp]`` server tasks in this process send email
  through (:func:`smtp_params`; LocalExecutor workers get it in their config instead).
* :func:`open_engine` — the metadata database engine, optionally checked to be
  migrated, disposed on exit.
* :func:`create_executor` (through the executor registry), :func:`scheduler_config`, :func:`create_scheduler`.
* :func:`create_processor` — the DAG processor (run it in its own process:
  the scheduler never imports user code).
* :func:`create_services` — the services plug-ins declare, to run beside the scheduler loop.
* :func:`api_thread` — the REST API on a thread (``windvane standalone``).

Settings without a counterpart in :class:`SchedulerConfig` are noted where
they are mapped. The scheduler, the DAG processor, the executors, the services
and the metrics backends are imported by the function that builds them, and
SQLAlchemy by the engine's: every command imports this module (``windvane
config get`` needs no database; ``windvane dags list`` no scheduler).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pendulum

from windvane.core.authoring.defaults import AuthoringDefaults, set_authoring_defaults
from windvane.core.executors.registry import ExecutorOptions
from windvane.core.scheduler.config import SchedulerConfig
from windvane.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from windvane.api.server import ApiThread
    from windvane.cli.services import ServiceRunner
    from windvane.core.executors import Executor
    from windvane.core.model.secrets_config import SecretsConfig
    from windvane.core.processor import DagProcessor
    from windvane.core.scheduler.loop import Scheduler
    from windvane.core.scheduler.observer import SchedulerObserver
    from windvane.core.store.fernet import FernetCodec
    from windvane.core.task_api.mailer import SmtpParams
    from windvane.metrics import MetricsSink
    from windvane.metrics.wiring import MetricsBundle
    from windvane.plugins import EntryPointLoader
    from windvane.tasklogs.remote import RemoteLogs

#: Longest the scheduler goes without re-reading the DB for others' changes (triggers, pauses).
#: There is no setting for it: it is this, or ``scheduler.idle_sleep_seconds`` if that is shorter.
MAX_POLL_INTERVAL_SECONDS = 0.5


def authoring_defaults(settings: Settings) -> AuthoringDefaults:
    """The settings a DAG file cannot be handed: default time zone, catchup and DAG concurrency."""
    return AuthoringDefaults(
        timezone=pendulum.timezone(settings.core.default_timezone),
        catchup=settings.scheduler.catchup_by_default,
        max_active_runs=settings.core.max_active_runs_per_dag,
        max_active_tasks=settings.core.max_active_tasks_per_dag,
    )


def apply_authoring_defaults(settings: Settings) -> None:
    """Set the authoring defaults of this process; call before any DAG file is parsed."""
    set_authoring_defaults(authoring_defaults(settings))


def database_url(settings: Settings) -> str:
    """The metadata database URL with its password masked (for display)."""
    from windvane.core.store.engine import mask_url

    return mask_url(settings.database.sql_alchemy_conn)


def create_engine(settings: Settings) -> Engine:
    """An engine on the metadata database (``[database]`` settings)."""
    from windvane.core.store.engine import create_db_engine  # SQLAlchemy: commands without a DB skip it

    return create_db_engine(
        settings.database.sql_alchemy_conn,
        pool_size=settings.database.pool_size,
        max_overflow=settings.database.max_overflow,
        pool_timeout=settings.database.pool_timeout,
        pool_recycle=settings.database.pool_recycle,
        echo=settings.database.echo,
    )


@contextmanager
def open_engine(settings: Settings, *, require_schema: bool = True, wait: bool = False) -> Iterator[Engine]:
    """An engine, disposed at the end; with ``require_schema`` the schema must be migrated.

    Raises :class:`~windvane.errors.StoreError` naming the database when it is
    not at the newest revision (``windvane db migrate`` fixes that). With ``wait`` (long-running
    commands) an unreachable database is waited for up to ``[database] max_outage_seconds``
    (:func:`~windvane.cli.db_wait.wait_for_database`).
    """
    from windvane.cli.schema_gate import looks_current

    engine = create_engine(settings)
    try:
        if wait:
            from windvane.cli.db_wait import wait_for_database

            wait_for_database(engine, max_outage_seconds=settings.database.max_outage_seconds)
        if require_schema and not looks_current(engine):
            # Alembic (slow to import) only when the quick look is unsure: it names what is wrong.
            from windvane.core.store.migrate import require_current

            require_current(engine)
        yield engine
    finally:
        engine.dispose()


def log_folder(settings: Settings) -> Path:
    """Where task logs go (``logging.base_log_folder``)."""
    return settings.logging.base_log_folder


def remote_logs(settings: Settings) -> RemoteLogs:
    """How ``tasks logs`` and the API reach workers' log servers (``[celery] worker_log_*``)."""
    from windvane.tasklogs.remote import RemoteLogs

    celery = settings.celery
    return RemoteLogs(
        port=celery.worker_log_server_port,
        secret=celery.worker_log_server_secret,
        timeout_seconds=celery.worker_log_fetch_timeout_seconds,
    )


def processor_log(settings: Settings) -> Path:
    """Where the DAG processor's parsing children write their stdout and stderr."""
    return log_folder(settings) / "dag_processor" / "parsing.log"


def secrets_config(settings: Settings, environ: Mapping[str, str]) -> SecretsConfig:
    """Where processes running user code find Connections and Variables: ``[secrets] backends``,
    ``[core] fernet_key`` and ``sensitive_var_conn_names``, and the ``WINDVANE_CONN_*`` /
    ``WINDVANE_VAR_*`` entries of ``environ`` (the process's environment, read by the caller)."""
    from windvane.core.model.secrets_config import SecretsConfig
    from windvane.core.task_api.secrets_backends.env import secrets_environment

    return SecretsConfig(
        db_url=settings.database.sql_alchemy_conn,
        backends=settings.secrets.backends,
        fernet_keys=tuple(k.strip() for k in settings.core.fernet_key.split(",") if k.strip()),
        sensitive_names=settings.core.sensitive_var_conn_names,
        environ=secrets_environment(environ),
    )


def fernet_codec(settings: Settings) -> FernetCodec:
    """The codec of ``[core] fernet_key`` (ConfigError naming a malformed key)."""
    from windvane.core.store.fernet import FernetCodec

    return FernetCodec.from_setting(settings.core.fernet_key)


def executor_options(settings: Settings) -> ExecutorOptions:
    """What every executor factory is given."""
    return ExecutorOptions(
        secrets=secrets_config(settings, os.environ),
        parallelism=settings.core.parallelism,
        db_url=settings.database.sql_alchemy_conn,
        log_folder=str(log_folder(settings)),
        heartbeat_seconds=settings.executor.worker_heartbeat_seconds,
        max_log_bytes=settings.logging.max_log_bytes,
        memory_limit_mib=settings.executor.task_memory_limit_mib,
        outcome_folder=str(settings.executor.outcome_folder),
        tries_per_process=settings.executor.tries_per_process,
        max_cached_dag_files=settings.executor.max_cached_dag_files,
        send_ahead=settings.executor.send_ahead,
        section=executor_section(settings, settings.core.executor),
        callback_timeout_seconds=settings.core.callback_timeout_seconds,
        smtp=smtp_params(settings),
        max_outage_seconds=settings.database.max_outage_seconds,
        process_containment=settings.core.process_containment,
        worker_stop_grace_seconds=settings.executor.worker_stop_grace_seconds,
    )


def smtp_params(settings: Settings) -> SmtpParams | None:
    """``[smtp]`` as the SMTP server tasks send email through (None when ``host`` is empty)."""
    from windvane.core.task_api.mailer import SmtpParams

    smtp = settings.smtp
    if not smtp.host:
        return None
    return SmtpParams(
        host=smtp.host,
        port=smtp.port,
        user=smtp.user or None,
        password=smtp.password or None,
        starttls=smtp.starttls,
        ssl=smtp.ssl,
        timeout=smtp.timeout_seconds,
        mail_from=smtp.mail_from,
    )


def install_task_settings(settings: Settings) -> None:
    """Install what tasks run in this process read from the settings: the ``[smtp]`` server
    (``EmailOperator``). Called with :func:`apply_authoring_defaults`, before any task runs."""
    from windvane.core.task_api.mailer import install_smtp_params

    install_smtp_params(smtp_params(settings))


def executor_section(settings: Settings, name: str) -> dict[str, Any]:
    """The settings section named like executor ``name`` (``[celery]``) as a dict; empty if none."""
    section = getattr(settings, name, None)
    if section is None or not dataclasses.is_dataclass(section) or isinstance(section, type):
        return {}
    return dataclasses.asdict(section)


def create_executor(settings: Settings) -> Executor:
    """The executor named by ``core.executor`` (not started), from the executor registry."""
    from windvane.core.executors import create_executor as _create_executor

    return _create_executor(settings.core.executor, executor_options(settings))


def scheduler_config(settings: Settings, **overrides: Any) -> SchedulerConfig:
    """``[core]`` and ``[scheduler]`` settings as a :class:`SchedulerConfig`; ``overrides`` win.

    ``scheduler.catchup_by_default`` goes to the authoring defaults instead.
    """
    s = settings.scheduler
    config = SchedulerConfig(
        parallelism=settings.core.parallelism,
        idle_sleep_seconds=s.idle_sleep_seconds,
        poll_interval_seconds=min(MAX_POLL_INTERVAL_SECONDS, s.idle_sleep_seconds),
        heartbeat_seconds=s.heartbeat_seconds,
        health_check_threshold_seconds=s.health_check_threshold_seconds,
        max_outage_seconds=settings.database.max_outage_seconds,
        task_heartbeat_timeout_seconds=s.task_heartbeat_timeout_seconds,
        zombie_check_interval_seconds=s.zombie_check_interval_seconds,
        task_queued_timeout_seconds=s.task_queued_timeout_seconds,
        max_dagruns_to_create_per_loop=s.max_dagruns_to_create_per_loop,
        max_tis_per_query=s.max_tis_per_query,
    )
    return replace(config, **overrides)


def create_scheduler(
    settings: Settings,
    engine: Engine,
    *,
    config: SchedulerConfig | None = None,
    executor: Executor | None = None,
    observer: SchedulerObserver | None = None,
) -> Scheduler:
    """A scheduler on ``engine`` with the configured executor (or ``executor``); on PostgreSQL it
    coordinates with any other scheduler on the same database (``SchedulerConfig.coordinated``)."""
    from windvane.core.scheduler.loop import Scheduler

    config = config or scheduler_config(settings)
    if engine.dialect.name == "postgresql":
        config = replace(config, coordinated=True)
    return Scheduler(
        engine=engine,
        executor=executor or create_executor(settings),
        config=config,
        observer=observer,
    )


def create_processor(settings: Settings, engine: Engine) -> DagProcessor:
    """A DAG processor over ``core.dags_folder`` (``[dag_processor]`` settings)."""
    from windvane.core.processor import DagProcessor

    parse_log = processor_log(settings)
    parse_log.parent.mkdir(parents=True, exist_ok=True)
    return DagProcessor(
        settings.core.dags_folder,
        engine,
        parse_timeout=settings.dag_processor.file_parse_timeout_seconds,
        parsing_processes=settings.dag_processor.parsing_processes,
        paused_at_creation=settings.core.dags_are_paused_at_creation,
        authoring_defaults=authoring_defaults(settings),
        parse_log=str(parse_log),
        memory_limit_mib=settings.dag_processor.parse_memory_limit_mib,
        max_outage_seconds=settings.database.max_outage_seconds,
        parse_from_template=settings.dag_processor.parse_from_template,
        secrets=secrets_config(settings, os.environ),
    )


def create_services(
    settings: Settings,
    engine: Engine,
    *,
    plugins: EntryPointLoader | None = None,
    metrics: MetricsSink | None = None,
    only: Collection[str] | None = None,
) -> ServiceRunner:
    """The services plug-ins declare (entry-point group ``windvane.services``; those named in
    ``only``, if given), not started yet."""
    from windvane.cli.services import ServiceContext, ServiceRunner, load_services

    context = ServiceContext(settings=settings, engine=engine, metrics=metrics)
    services, failures = load_services(context, plugins, only=only)
    return ServiceRunner(services, failures=failures)


def create_metrics(settings: Settings, engine: Engine | None, *, service: str) -> MetricsBundle:
    """The metrics of one long-running process (no-op sinks when both backends are off)."""
    from windvane.metrics.wiring import build_metrics

    return build_metrics(
        settings.metrics,
        executor_name=settings.core.executor,
        service=service,
        engine=engine,
        dags_folder=str(settings.core.dags_folder) if service == "dag-processor" else None,
    )


def metrics_port(settings: Settings, service: str) -> int:
    """The Prometheus port of ``service``: the DAG processor has its own (it is a process of its own)."""
    m = settings.metrics
    return m.prometheus_processor_port if service == "dag-processor" else m.prometheus_port


def metrics_url(settings: Settings, service: str) -> str | None:
    if not settings.metrics.prometheus_on:
        return None
    return f"http://{settings.metrics.prometheus_host}:{metrics_port(settings, service)}/metrics"


def api_thread(settings: Settings, engine: Engine) -> ApiThread:
    """The REST API on ``[api] host:port``, served on a thread of this process (not started)."""
    from windvane.api.config import from_settings as api_config
    from windvane.api.server import ApiThread

    return ApiThread(engine, api_config(settings), host=settings.api.host, port=settings.api.port)
