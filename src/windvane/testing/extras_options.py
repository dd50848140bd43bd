"""The options of :mod:`windvane.testing.plugin_extras`: each CLI flag with its ini twin, read and
validated once into :class:`ExtrasOptions` (a bad value is a :class:`pytest.UsageError` naming it);
and the session's SQLite template that every sandbox copies (:func:`sqlite_template`).

``{sandbox}`` in ``--windvane-run-conf``, ``--windvane-watch-dir`` and
``--windvane-watch-db`` stands for the sandbox folder of each automatic check,
so a DAG's outputs can be pointed into it.
"""

from __future__ import annotations

import importlib.util
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pendulum
import pytest

from windvane.testing.database import SqliteTemplate

ENV_SCOPES = ("function", "session")
#: The session's migrated SQLite template (see :func:`sqlite_template`).
TEMPLATE_KEY = pytest.StashKey[SqliteTemplate]()
SANDBOX = "{sandbox}"


@dataclass(frozen=True)
class ExtrasOptions:
    dags: Path | None
    env_scope: str
    idempotency: bool
    determinism: bool
    snapshot: bool
    snapshot_update: bool
    snapshot_dir: Path | None
    logical_date: pendulum.DateTime | None
    run_conf: dict[str, Any]
    watch_dirs: tuple[str, ...]
    watch_db: str | None
    watch_tables: tuple[str, ...]

    @property
    def collects(self) -> bool:
        """Whether automatic items are collected from the DAGs folder."""
        return self.idempotency or self.determinism or self.snapshot or self.snapshot_update

    @property
    def snapshot_folder(self) -> Path:
        from windvane.testing.snapshots import SNAPSHOT_FOLDER

        assert self.dags is not None
        folder = self.dags if self.dags.is_dir() else self.dags.parent
        return self.snapshot_dir or folder / SNAPSHOT_FOLDER


# (flag, ini name, ini type, help); flags with action "store_true" are booleans.
_FLAGS: list[tuple[str, str, Literal["string", "bool", "linelist"], str]] = [
    (
        "--windvane-env-scope",
        "windvane_env_scope",
        "string",
        "scope of the windvane_env sandbox: function (a fresh WINDVANE_HOME and SQLite DB per test, "
        "default) or session",
    ),
    (
        "--windvane-idempotency",
        "windvane_idempotency",
        "bool",
        "add an item per task of each DAG in the DAGs folder: run it twice for one logical date and "
        "compare XComs, watched files and watched tables",
    ),
    (
        "--windvane-determinism",
        "windvane_determinism",
        "bool",
        "add an item per DAG: run it in two fresh sandboxes (clock pinned, random seeded) and report "
        "wall-clock, random or uuid leakage into its outputs",
    ),
    (
        "--windvane-snapshot",
        "windvane_snapshot",
        "bool",
        "add an item per DAG comparing its structure with <snapshot dir>/<dag_id>.json",
    ),
    (
        "--windvane-snapshot-update",
        "windvane_snapshot_update",
        "bool",
        "write the structure snapshots instead of comparing them (then review and commit them)",
    ),
    (
        "--windvane-snapshot-dir",
        "windvane_snapshot_dir",
        "string",
        "folder of the structure snapshots (default <DAGs folder>/.windvane-snapshots)",
    ),
    (
        "--windvane-logical-date",
        "windvane_logical_date",
        "string",
        "logical date of the automatic runs (ISO 8601; default each DAG's start_date)",
    ),
    (
        "--windvane-run-conf",
        "windvane_run_conf",
        "string",
        "run conf of the automatic runs, a JSON object ({sandbox} is the check's sandbox folder)",
    ),
    (
        "--windvane-watch-dir",
        "windvane_watch_dirs",
        "linelist",
        "folder whose files the idempotency/determinism checks compare (repeatable; {sandbox} allowed)",
    ),
    (
        "--windvane-watch-db",
        "windvane_watch_db",
        "string",
        "SQLAlchemy URL of the database whose watched tables are compared ({sandbox} allowed)",
    ),
    (
        "--windvane-watch-table",
        "windvane_watch_tables",
        "linelist",
        "table of --windvane-watch-db whose rows are compared (repeatable)",
    ),
]


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("windvane", "Windvane DAG checks")
    if importlib.util.find_spec("windvane.testing.plugin") is None:
        # The integrity plugin owns --windvane-dags; alone, this module declares it itself.
        group.addoption(
            "--windvane-dags", dest="windvane_dags", default=None, help="the DAGs folder to check"
        )
        parser.addini("windvane_dags", "the DAGs folder to check", type="string", default="")
    for flag, ini, kind, text in _FLAGS:
        dest = ini
        if kind == "bool":
            group.addoption(flag, dest=dest, action="store_true", default=None, help=text)
        elif kind == "linelist":
            group.addoption(flag, dest=dest, action="append", default=None, help=text)
        else:
            group.addoption(flag, dest=dest, default=None, help=text)
        parser.addini(
            ini, text, type=kind, default=False if kind == "bool" else ([] if kind == "linelist" else "")
        )


def _value(config: pytest.Config, name: str) -> Any:
    cli = config.getoption(name, default=None)
    if cli is not None:
        return cli
    try:
        return config.getini(name)
    except ValueError:  # not declared (the integrity plugin's option, absent)
        return None


def _dags_folder(config: pytest.Config) -> Path | None:
    """``--windvane-dags`` (relative to where pytest was started) or ini ``windvane_dags`` (relative
    to the ini file's folder), as the integrity plugin reads it."""
    cli = config.getoption("windvane_dags", default=None)
    if cli:
        return config.invocation_params.dir / str(cli)
    try:
        ini = config.getini("windvane_dags")
    except ValueError:
        return None
    base = config.inipath.parent if config.inipath else config.rootpath
    return base / str(ini) if ini else None


def read_options(config: pytest.Config) -> ExtrasOptions:
    """Read and validate every option (CLI over ini); :class:`pytest.UsageError` names a bad one."""
    dags = _dags_folder(config)
    scope = str(_value(config, "windvane_env_scope") or "function")
    if scope not in ENV_SCOPES:
        raise pytest.UsageError(
            f"--windvane-env-scope / windvane_env_scope: {scope!r} is not one of {ENV_SCOPES}"
        )
    date_text = _value(config, "windvane_logical_date") or ""
    logical = None
    if date_text:
        try:
            parsed = pendulum.parse(str(date_text), tz="UTC")
        except ValueError as exc:
            raise pytest.UsageError(
                f"--windvane-logical-date / windvane_logical_date: {date_text!r}: {exc}"
            ) from None
        if not isinstance(parsed, pendulum.DateTime):
            raise pytest.UsageError(
                f"--windvane-logical-date / windvane_logical_date: {date_text!r} is not a date"
            )
        logical = parsed
    conf_text = _value(config, "windvane_run_conf") or ""
    conf: Any = {}
    if conf_text:
        try:
            conf = json.loads(str(conf_text))
        except ValueError as exc:
            raise pytest.UsageError(f"--windvane-run-conf / windvane_run_conf is not JSON: {exc}") from None
        if not isinstance(conf, dict):
            raise pytest.UsageError("--windvane-run-conf / windvane_run_conf must be a JSON object")
    tables = tuple(_value(config, "windvane_watch_tables") or ())
    watch_db = str(_value(config, "windvane_watch_db") or "") or None
    if tables and not watch_db:
        raise pytest.UsageError("--windvane-watch-table / windvane_watch_tables need --windvane-watch-db")
    snapshot_dir = str(_value(config, "windvane_snapshot_dir") or "") or None
    options = ExtrasOptions(
        dags=dags,
        env_scope=scope,
        idempotency=bool(_value(config, "windvane_idempotency")),
        determinism=bool(_value(config, "windvane_determinism")),
        snapshot=bool(_value(config, "windvane_snapshot")),
        snapshot_update=bool(_value(config, "windvane_snapshot_update")),
        snapshot_dir=config.rootpath / snapshot_dir if snapshot_dir else None,
        logical_date=logical,
        run_conf=conf,
        watch_dirs=tuple(_value(config, "windvane_watch_dirs") or ()),
        watch_db=watch_db,
        watch_tables=tables,
    )
    if options.collects:
        if options.dags is None:
            raise pytest.UsageError(
                "--windvane-idempotency, --windvane-determinism and --windvane-snapshot need the DAGs "
                "folder: --windvane-dags=PATH or ini windvane_dags"
            )
        if not options.dags.exists():
            raise pytest.UsageError(f"--windvane-dags / windvane_dags: {options.dags} does not exist")
    return options


def sqlite_template(config: pytest.Config) -> SqliteTemplate:
    """The session's migrated SQLite template (made on first use, removed at the end) that sandboxes copy."""
    template = config.stash.get(TEMPLATE_KEY, None)
    if template is None:
        template = config.stash[TEMPLATE_KEY] = SqliteTemplate(tempfile.mkdtemp(prefix="windvane-template-"))
    return template
