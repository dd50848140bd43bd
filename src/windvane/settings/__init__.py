"""Windvane's configuration: ``$WINDVANE_HOME/windvane.toml`` plus ``WINDVANE__<SECTION>__<KEY>``.

Settings are read once, at the edge (the CLI), with :func:`load_settings` and
passed into constructors; nothing else reads the environment::

    settings = load_settings()                      # defaults < file < env
    settings.core.parallelism                       # 32
    settings.as_rows()                              # for `windvane config list`
    get_value(settings, "database.sql_alchemy_conn")

Tests build settings without touching the real environment::

    load_settings(home=tmp_path, environ={}, overrides={"core": {"parallelism": 2}})

``python -m windvane.settings`` prints ``docs/configuration.md``.
"""

from __future__ import annotations

from windvane.settings._api import ApiSettings
from windvane.settings._celery import CelerySettings
from windvane.settings._database import DatabaseSettings
from windvane.settings._executor import ExecutorSettings
from windvane.settings._format import format_value, mask_secret
from windvane.settings._kinds import ALERT_KINDS, SEVERITIES, AlertRoute, parse_umask
from windvane.settings._loader import CONFIG_FILE_NAME, HOME_ENV_VAR, config_file, load_settings
from windvane.settings._present import REGENERATE_COMMAND, allowed_values, get_value, render_config_docs
from windvane.settings._sections import (
    AlertingSettings,
    CliSettings,
    CoreSettings,
    DagProcessorSettings,
    LoggingSettings,
    MetricsSettings,
    SchedulerSettings,
    SecretsSettings,
    Settings,
    SlackSettings,
    SmtpSettings,
    Source,
    WebhookSettings,
)

__all__ = [
    "ALERT_KINDS",
    "CONFIG_FILE_NAME",
    "HOME_ENV_VAR",
    "REGENERATE_COMMAND",
    "SEVERITIES",
    "AlertRoute",
    "AlertingSettings",
    "ApiSettings",
    "CelerySettings",
    "CliSettings",
    "CoreSettings",
    "DagProcessorSettings",
    "DatabaseSettings",
    "ExecutorSettings",
    "LoggingSettings",
    "MetricsSettings",
    "SchedulerSettings",
    "SecretsSettings",
    "Settings",
    "SlackSettings",
    "SmtpSettings",
    "Source",
    "WebhookSettings",
    "allowed_values",
    "config_file",
    "format_value",
    "get_value",
    "load_settings",
    "mask_secret",
    "parse_umask",
    "render_config_docs",
]
