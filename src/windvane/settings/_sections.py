"""The config sections: one frozen dataclass per ``[section]`` of ``windvane.toml``.

Adding a key is one line: a typed field whose default is :func:`setting` with
the help text (and a check where the value has a range). The annotation picks
the parser; the docs table, env var name and error messages follow from it.

Path defaults are relative and resolve against ``WINDVANE_HOME`` when loaded,
so construct settings with :func:`windvane.settings.load_settings`, not by
calling these classes directly.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from types import MappingProxyType
from typing import Literal

from windvane.settings._api import ApiSettings
from windvane.settings._celery import CelerySettings
from windvane.settings._database import DatabaseSettings
from windvane.settings._executor import ExecutorSettings
from windvane.settings._format import format_value, mask_secret
from windvane.settings._kinds import (
    AlertRoute,
    AreRegexes,
    Between,
    IsExecutorName,
    IsTimezone,
    IsUmask,
    Within,
    resolve_executor_name_setting,
    setting,
)

Source = Literal["default", "file", "env", "override"]

_PORT = Between(1, 65535)
# Every number has a ceiling, so a value that passes the checks cannot overflow later arithmetic
# (dates, monotonic deadlines, 32-bit columns). Durations are seconds.
_COUNT = Between(1, 1_000_000)  # tasks, runs, slots
_PROCESSES = Between(1, 1024)
_INTERVAL = Within(0, 86_400)  # how often something happens: at most a day
_TIMEOUT = Within(0, 7 * 86_400)  # how long to wait for something: at most a week
_MEBIBYTES = Between(0, 1 << 30)  # a memory limit in MiB: 0 (none) up to 1 EiB
_AGE = Within(0, 10 * 365 * 86_400)  # how long to keep something: at most ten years


@dataclass(frozen=True)
class CoreSettings:
    """Where DAGs live and how much may run at once."""

    dags_folder: Path = setting(Path("dags"), "Folder scanned for DAG files.")  # noqa: RUF009 (Path is immutable)
    default_timezone: str = setting(
        "UTC", "Time zone for naive datetimes in DAGs and schedules.", check=IsTimezone()
    )
    executor: str = setting(
        "local",
        "Executor that runs task instances (plug-ins add theirs: entry-point group windvane.executors).",
        check=IsExecutorName(),
        resolve=resolve_executor_name_setting,
    )
    parallelism: int = setting(32, "Most task instances running at once, over all DAGs.", check=_COUNT)
    max_active_tasks_per_dag: int = setting(16, "Default most running task instances per DAG.", check=_COUNT)
    max_active_runs_per_dag: int = setting(16, "Default most active runs per DAG.", check=_COUNT)
    dags_are_paused_at_creation: bool = setting(False, "Whether new DAGs start paused.")
    default_pool_slots: int = setting(128, "Slots of the default pool.", check=_COUNT)
    umask: str = setting(
        "077",
        "umask of every Windvane process and what it starts: the metadata database (and its WAL), "
        "task and parse logs are owner-only by default; '022' makes them readable by all.",
        check=IsUmask(),
    )
    fernet_key: str = setting(
        "",
        "Fernet key(s) encrypting Connection passwords/extras and Variables at rest, comma-separated: "
        "the first encrypts, all decrypt (rotation: `windvane rotate-fernet-key`). Empty: stored "
        "unencrypted with a warning (docs/connections.md#encryption).",
    )
    sensitive_var_conn_names: tuple[str, ...] = setting(
        (),
        "More key names (besides password, secret, token, api_key, private_key, passwd, "
        "authorization, access_token, ...) whose Variable values and Connection extras are masked "
        "as *** in logs, stored errors and the CLI.",
    )
    process_containment: Literal["auto", "cgroup", "subreaper", "group"] = setting(
        "auto",
        "How the processes of a try or a parse are kept from outliving it (docs/operations.md): "
        "'cgroup' (a cgroup per try and parse; its memory limit; fails at start when no cgroup "
        "is writable), 'subreaper' (Linux: tries and parses adopt and end their orphans, workers "
        "those of a killed try), 'group' (only the try's session is swept: a descendant calling "
        "setsid escapes), 'auto' (cgroup where one is writable, else subreaper on Linux, else group).",
    )
    callback_timeout_seconds: float = setting(
        60.0,
        "Longest one task or DAG callback may run (in the try's process, or in the forked child "
        "running it from the journal); past it the callback is logged, counted and left behind: "
        "the task's or run's state stands.",
        check=_TIMEOUT,
    )


@dataclass(frozen=True)
class SchedulerSettings:
    """The scheduler loop."""

    idle_sleep_seconds: float = setting(
        1.0, "Longest the event-driven loop waits when nothing happens.", check=_INTERVAL
    )
    heartbeat_seconds: float = setting(5.0, "How often the scheduler records its heartbeat.", check=_INTERVAL)
    health_check_threshold_seconds: float = setting(
        30.0, "Heartbeat age after which the scheduler counts as unhealthy.", check=_TIMEOUT
    )
    task_heartbeat_timeout_seconds: float = setting(
        300.0, "Task heartbeat age after which a running task is a zombie.", check=_TIMEOUT
    )
    zombie_check_interval_seconds: float = setting(
        10.0,
        "How often the scheduler looks for zombie tasks (and for tasks queued too long).",
        check=_INTERVAL,
    )
    task_queued_timeout_seconds: float = setting(
        600.0,
        "How long a task may stay queued without starting before the scheduler fails it (up for "
        "retry while it has retries left), whatever left it there: a worker that could not claim "
        "it, a lost broker message. Airflow's task_queued_timeout.",
        check=_TIMEOUT,
    )
    max_dagruns_to_create_per_loop: int = setting(
        10, "Most DAG runs created in one loop iteration.", check=_COUNT
    )
    max_tis_per_query: int = setting(512, "Most task instances queued in one loop iteration.", check=_COUNT)
    catchup_by_default: bool = setting(True, "Default `catchup` for DAGs that do not set it.")


@dataclass(frozen=True)
class DagProcessorSettings:
    """Parsing DAG files."""

    refresh_interval_seconds: float = setting(
        2.0, "How often the DAGs folder is re-listed for new or deleted files.", check=_INTERVAL
    )
    file_parse_timeout_seconds: float = setting(
        30.0, "Longest one DAG file may take to import.", check=_TIMEOUT
    )
    parsing_processes: int = setting(2, "Processes parsing DAG files in parallel.", check=_PROCESSES)
    standalone: bool = setting(
        False, "Run the DAG processor as its own process (false: the scheduler runs it)."
    )
    parse_memory_limit_mib: int = setting(
        0,
        "Memory limit of each parse in MiB: its cgroup's in the 'cgroup' containment with a memory "
        "controller, else the parsing process's address space (RLIMIT_AS); 0 means none. "
        "A file that needs more is an import error naming the limit.",
        check=_MEBIBYTES,
    )
    parse_from_template: bool = setting(
        True,
        "Fork the parse children from a lean template process started once with only the "
        "authoring modules imported (cheaper forks; the processor then forks nothing); false: "
        "the processor forks them itself.",
    )


@dataclass(frozen=True)
class LoggingSettings:
    """Log files and verbosity."""

    base_log_folder: Path = setting(Path("logs"), "Folder that holds task logs.")  # noqa: RUF009 (Path is immutable)
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = setting("INFO", "Level of Windvane's own logs.")
    max_log_bytes: int = setting(
        100 * 1024 * 1024,
        "Largest task log file in bytes: past it the log is cut with a marker line and the rest "
        "of the try's output dropped; 0 means no cap.",
        check=Between(0, 1 << 40),
    )


@dataclass(frozen=True)
class MetricsSettings:
    """StatsD and Prometheus metrics."""

    statsd_on: bool = setting(False, "Send metrics to StatsD.")
    statsd_host: str = setting("localhost", "StatsD host.")
    statsd_port: int = setting(8125, "StatsD port.", check=_PORT)
    statsd_prefix: str = setting("windvane", "Prefix of every StatsD metric name.")
    statsd_allow_list: tuple[str, ...] = setting(
        (),
        "Regular expressions: only metrics whose short StatsD name (lower-cased, no prefix) one of them "
        "matches anywhere are sent (empty: all); when set, statsd_block_list is ignored.",
        check=AreRegexes(),
    )
    statsd_block_list: tuple[str, ...] = setting(
        (),
        "Regular expressions: metrics whose short StatsD name (lower-cased, no prefix) one of them "
        "matches anywhere are not sent.",
        check=AreRegexes(),
    )
    statsd_datadog_tags: bool = setting(
        True,
        "Labels as DogStatsD tags (|#dag_id:etl,...): through statsd_exporter and "
        "compose/statsd-mapping.yml the same names, labels and values as Prometheus. false: "
        "Airflow's legacy dotted names (label values in the name), which lose some labels.",
    )
    prometheus_on: bool = setting(False, "Serve metrics for Prometheus to scrape.")
    prometheus_host: str = setting("127.0.0.1", "Address the Prometheus endpoint listens on.")
    prometheus_port: int = setting(
        9464, "Port of the scheduler's (and standalone's) Prometheus endpoint.", check=_PORT
    )
    prometheus_processor_port: int = setting(
        9465,
        "Port of the DAG processor's Prometheus endpoint (it runs as a process of its own).",
        check=_PORT,
    )


@dataclass(frozen=True)
class CliSettings:
    """The ``windvane`` command's own behaviour."""

    backfill_confirm_above: int = setting(
        100,
        "`dags backfill` asks before queueing more runs than this when stdin is a terminal "
        "(`--yes` skips the question); 0 asks every time.",
        check=Between(0, 1_000_000),
    )


@dataclass(frozen=True)
class AlertingSettings:
    """Durable alert delivery (the outbox and its dispatcher; see docs/alerting.md).

    Channels read their own sections (``[smtp]``, ``[slack]``, ``[webhook]``);
    the channel names below are those channels' names.
    """

    enabled: bool = setting(
        False, "Run the alert dispatcher beside the scheduler (turn on once a channel is configured)."
    )
    poll_interval_seconds: float = setting(
        2.0, "How often the dispatcher relays the journal and sends due alerts.", check=_INTERVAL
    )
    journal_check_seconds: float = setting(
        0.2,
        "Between passes, how often the dispatcher looks for new journal rows and, when there are, "
        "relays and sends them at once (0 turns the check off).",
        check=Between(0, 86_400),
    )
    max_age_seconds: float = setting(
        86400.0, "An alert still undelivered this long after it was raised is marked dead.", check=_AGE
    )
    backoff_base_seconds: float = setting(
        5.0, "Longest wait after the first failed delivery; doubles with each failure.", check=_INTERVAL
    )
    backoff_max_seconds: float = setting(
        300.0, "Cap on the wait between delivery attempts (before jitter).", check=_INTERVAL
    )
    send_timeout_seconds: float = setting(
        60.0, "Longest one delivery attempt may take before it counts as failed.", check=_TIMEOUT
    )
    claim_seconds: float = setting(
        180.0,
        "How long a dispatcher owns the alerts it is sending (at least twice send_timeout_seconds).",
        check=_TIMEOUT,
    )
    concurrency: int = setting(4, "Most alerts one dispatcher sends at once.", check=_PROCESSES)
    retention_seconds: float = setting(
        30 * 86400.0,
        "Sent and dead alerts older than this are deleted from the outbox, and SLA misses detected "
        "longer ago (and before sla_lookback_seconds) from sla_miss.",
        check=_AGE,
    )
    task_failure_channels: tuple[str, ...] = setting(
        ("email",), "Channels of task failures (email only reaches tasks with `email` set)."
    )
    task_retry_channels: tuple[str, ...] = setting(
        ("email",), "Channels of task retries (email only reaches tasks with `email_on_retry`)."
    )
    run_failure_channels: tuple[str, ...] = setting((), "Channels of DAG run failures.")
    sla_checks: bool = setting(
        True, "Check task `sla` and DAG `deadline` times and record misses (the SLA monitor service)."
    )
    sla_miss_channels: tuple[str, ...] = setting(
        ("email",), "Channels of SLA and run deadline misses (email goes to the tasks' `email` lists)."
    )
    sla_check_backfill: bool = setting(
        False, "Check backfill runs too (off: catch-up work queued behind max_active_runs is not late)."
    )
    sla_recovered_notice: bool = setting(
        True, "Send a 'recovered, late by X' notice when a task or run that missed its SLA succeeds."
    )
    sla_poll_interval_seconds: float = setting(
        5.0, "How often the SLA monitor looks for due SLA and deadline times.", check=_INTERVAL
    )
    sla_lookback_seconds: float = setting(
        2 * 86400.0,
        "Due times older than this are not checked (a monitor down longer than this misses them).",
        check=_AGE,
    )
    sla_callback_timeout_seconds: float = setting(
        60.0,
        "Longest an `sla_miss_callback` may run (in its forked child) before it is killed.",
        check=_TIMEOUT,
    )
    routes: tuple[AlertRoute, ...] = setting(
        (),
        "Routes by DAG (glob), tag, kind, severity to channels, first match wins unless `continue`; "
        "no match: the *_channels lists. See docs/alerting.md#routing.",
    )
    group_wait_seconds: float = setting(
        5.0,
        "Task alerts of one run (same kind, channel) arriving within this window go out as one message.",
        check=Between(0, 86_400),
    )
    run_alert_replaces_task_alerts: bool = setting(
        True,
        "A run-failure alert supersedes its run's pending task alerts on the same channel (not email).",
    )
    repeat_interval_seconds: float = setting(
        0.0,
        "Suppress a DAG's further run-failure alerts this long after one, until a run succeeds (0: off).",
        check=Between(0, 10 * 365 * 86_400),
    )
    base_url: str = setting("", "Base URL of the UI; alerts link to <base_url>/dags/<dag>/runs/<run>.")


@dataclass(frozen=True)
class SmtpSettings:
    """The email channel (aiosmtplib); configured when ``host`` is set. See docs/alerting.md."""

    host: str = setting("", "SMTP server; empty turns the email channel off.")
    port: int = setting(25, "SMTP port (587 with starttls, 465 with ssl).", check=_PORT)
    user: str = setting("", "Login name; empty sends without logging in.")
    password: str = setting("", "Login password (masked in `config list`, never logged).")
    starttls: bool = setting(False, "Upgrade the connection with STARTTLS.")
    ssl: bool = setting(False, "Connect over TLS from the start (not with starttls).")
    timeout_seconds: float = setting(30.0, "Longest wait for each step of a conversation.", check=_TIMEOUT)
    mail_from: str = setting("windvane@localhost", "The From address of alert emails.")


@dataclass(frozen=True)
class SlackSettings:
    """The Slack channel (slack-sdk): an incoming webhook, or a bot token and a channel."""

    webhook_url: str = setting("", "Incoming webhook URL (a secret: masked, never logged).")
    token: str = setting("", "Bot token for chat.postMessage (with `channel`).")
    channel: str = setting("", "Channel the bot posts to, e.g. #alerts.")
    timeout_seconds: float = setting(10.0, "Longest wait for Slack to answer.", check=_TIMEOUT)


@dataclass(frozen=True)
class WebhookSettings:
    """The generic webhook channel: a JSON POST signed with HMAC-SHA256."""

    webhook_url: str = setting(
        "", "Where alerts are POSTed (masked: such URLs often embed a key); empty: channel off."
    )
    secret: str = setting("", "HMAC key for the X-Windvane-Signature header (masked).")
    timeout_seconds: float = setting(10.0, "Longest wait for the receiver to answer.", check=_TIMEOUT)


@dataclass(frozen=True)
class SecretsSettings:
    """Where Connections and Variables are looked up (see docs/connections.md)."""

    backends: tuple[str, ...] = setting(
        ("env", "metastore"),
        "Secrets backends, in lookup order: env (WINDVANE_CONN_<ID>, WINDVANE_VAR_<KEY>), metastore "
        "(the metadata DB) and plug-ins' (entry-point group windvane.secrets_backends).",
    )


@dataclass(frozen=True)
class Settings:
    """All of Windvane's configuration, read once by the CLI and passed down.

    ``sources`` maps ``"section.key"`` to where its value came from; keys
    missing from it are defaults.
    """

    home: Path
    core: CoreSettings
    database: DatabaseSettings
    scheduler: SchedulerSettings
    dag_processor: DagProcessorSettings
    executor: ExecutorSettings
    celery: CelerySettings
    logging: LoggingSettings
    metrics: MetricsSettings
    api: ApiSettings
    cli: CliSettings
    alerting: AlertingSettings
    smtp: SmtpSettings
    slack: SlackSettings
    webhook: WebhookSettings
    secrets: SecretsSettings
    sources: Mapping[str, Source] = field(
        default_factory=lambda: MappingProxyType({}), compare=False, repr=False
    )

    def source_of(self, section: str, key: str) -> Source:
        """Where ``section.key`` came from: ``default``, ``file``, ``env`` or ``override``."""
        return self.sources.get(f"{section}.{key}", "default")

    def as_rows(self, mask_secrets: bool = True) -> list[tuple[str, str, str, str]]:
        """Rows of ``(section, key, value, source)`` for ``windvane config list``.

        With ``mask_secrets``, keys named like password/secret/token show
        ``***`` and URL passwords are replaced with ``***``.
        """
        rows: list[tuple[str, str, str, str]] = []
        for section_field in fields(self):
            section = getattr(self, section_field.name)
            if not hasattr(section, "__dataclass_fields__"):
                continue
            for key_field in fields(section):
                text = format_value(getattr(section, key_field.name))
                if mask_secrets:
                    text = mask_secret(key_field.name, text)
                source = self.source_of(section_field.name, key_field.name)
                rows.append((section_field.name, key_field.name, text, source))
        return rows
