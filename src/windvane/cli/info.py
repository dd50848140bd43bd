"""``windvane info``: what a bug report needs, in one place.

Versions (read from the installed distributions' metadata: nothing is
imported), paths, the metadata database with its password hidden, the
executor, and where the settings came from (the config file, each
``WINDVANE__`` variable in effect). Nothing here connects to the database.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
from collections import Counter
from importlib import metadata

from windvane import __version__
from windvane.cli.base import EXIT_OK, Cli
from windvane.cli.wiring import database_url
from windvane.settings import HOME_ENV_VAR, config_file

#: Distributions whose versions matter when something goes wrong, in the order shown.
_DISTRIBUTIONS = (
    "sqlalchemy",
    "alembic",
    "pendulum",
    "croniter",
    "jinja2",
    "rich",
    "prometheus-client",
    "httpx",
    "slack-sdk",
    "aiosmtplib",
    "psycopg",
    "pymysql",
)


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "not installed"


def _home_source(args: argparse.Namespace) -> str:
    if getattr(args, "home", None) is not None:
        return "--home"
    return f"${HOME_ENV_VAR}" if os.environ.get(HOME_ENV_VAR) else "the default (~/windvane)"


def info(cli: Cli, args: argparse.Namespace) -> int:
    s = cli.settings
    file = config_file(s.home)
    sources = Counter(source for _, _, _, source in s.as_rows())
    env_keys = sorted(k for k in os.environ if k.startswith("WINDVANE__"))
    sections: dict[str, dict[str, object]] = {
        "windvane": {
            "version": __version__,
            "python": f"{platform.python_version()} ({platform.python_implementation()}, {sys.executable})",
            "platform": platform.platform(),
        },
        "paths": {
            "home": str(s.home),
            "home from": _home_source(args),
            "dags_folder": str(s.core.dags_folder),
            "base_log_folder": str(s.logging.base_log_folder),
        },
        "database": {
            "url": database_url(s),
            "dialect": s.database.sql_alchemy_conn.partition(":")[0],
        },
        "executor": {"name": s.core.executor, "parallelism": s.core.parallelism},
        "config sources": {
            "config file": f"{file} ({'read' if file.is_file() else 'absent'})",
            "environment": ", ".join(env_keys) or "(no WINDVANE__ variables)",
            "settings by source": ", ".join(f"{src} {n}" for src, n in sorted(sources.items())),
        },
        "versions": {name: _version(name) for name in _DISTRIBUTIONS},
    }
    if args.output == "json":
        cli.out.json(sections)
        return EXIT_OK
    rows = [
        {"section": section, "key": key, "value": value}
        for section, values in sections.items()
        for key, value in values.items()
    ]
    cli.out.rows(rows, ["section", "key", "value"], fmt=args.output)
    return EXIT_OK
