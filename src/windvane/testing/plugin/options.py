"""The plugin's options: each one on the command line and as an ini twin, validated at once.

:func:`add_options` registers them; :func:`read_settings` reads the command
line first, then the ini value, and raises :class:`pytest.UsageError` naming
the option for a bad value. Without ``--windvane-dags`` / ``windvane_dags``
the plugin is inert (:func:`read_settings` returns None).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from windvane.testing.integrity import Baseline, ParseSettings, Policy


@dataclass(frozen=True)
class _Option:
    name: str  # the ini name; the command-line flag is --windvane-<name with dashes>
    kind: str  # "path", "float", "int", "bool", "list"
    help: str

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


OPTIONS = (
    _Option("windvane_dags", "path", "DAG folder (or file) to check; the plugin does nothing without it."),
    _Option(
        "windvane_parse_timeout", "float", "Seconds a file may take to import before it fails (default 30)."
    ),
    _Option(
        "windvane_parse_budget",
        "float",
        "Seconds a file should take to import; slower fails parse_time (default 5).",
    ),
    _Option(
        "windvane_parse_processes",
        "int",
        "Files parsed at once, each in its own process (default: CPU count).",
    ),
    _Option(
        "windvane_require_owner",
        "bool",
        "Every task needs an owner other than the default (default_args['owner']).",
    ),
    _Option(
        "windvane_min_retries", "int", "Every task must retry at least this many times (default 0: no check)."
    ),
    _Option(
        "windvane_required_tags", "list", "Tags every DAG must carry (comma-separated; ini: one per line)."
    ),
    _Option(
        "windvane_allowed_tags", "list", "The only tags a DAG may carry (comma-separated; ini: one per line)."
    ),
    _Option(
        "windvane_baseline",
        "path",
        "Baseline file of checks known to fail, with reasons (see docs/testing.md).",
    ),
    _Option(
        "windvane_secret_env", "list", "More regular expressions of environment keys that count as secrets."
    ),
    _Option("windvane_slowest", "int", "Slowest files listed in the terminal summary (default 10; 0: none)."),
)

_INI_TYPES = {"path": "string", "float": "string", "int": "string", "bool": "bool", "list": "linelist"}


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("windvane", "Windvane DAG checks")
    for option in OPTIONS:
        if option.kind == "bool":
            group.addoption(
                option.flag, action="store_true", default=None, dest=option.name, help=option.help
            )
        else:
            group.addoption(option.flag, action="store", default=None, dest=option.name, help=option.help)
        parser.addini(option.name, option.help, type=_INI_TYPES[option.kind])  # type: ignore[arg-type]


@dataclass(frozen=True)
class PluginSettings:
    """Everything the plugin was asked to do, validated."""

    folder: Path
    parse: ParseSettings
    policy: Policy
    baseline: Baseline | None
    slowest: int


def _raw(config: pytest.Config, option: _Option) -> tuple[Any, Path, str]:
    """The value, the folder relative paths are read from, and where it came from."""
    value = config.getoption(option.name)
    if value is not None:
        return value, config.invocation_params.dir, option.flag
    base = config.inipath.parent if config.inipath else config.rootpath
    value = config.getini(option.name)
    if value in ("", [], None) or (option.kind == "bool" and value is False):
        return None, base, f"ini {option.name}"
    return value, base, f"ini {option.name}"


def _convert(option: _Option, value: Any, base: Path, where: str) -> Any:
    if option.kind == "path":
        path = Path(os.path.expanduser(str(value)))
        path = path if path.is_absolute() else base / path
        if not path.exists():
            raise pytest.UsageError(f"{where}: {path} does not exist")
        return path.resolve()
    if option.kind in ("float", "int"):
        try:
            number = float(value) if option.kind == "float" else int(str(value))
        except ValueError:
            raise pytest.UsageError(
                f"{where}: {value!r} is not {'a number' if option.kind == 'float' else 'an integer'}"
            ) from None
        return number
    if option.kind == "list":
        items = value if isinstance(value, list) else str(value).split(",")
        return tuple(s.strip() for s in items if s.strip())
    return bool(value)


def _value(config: pytest.Config, name: str, default: Any) -> tuple[Any, str]:
    option = next(o for o in OPTIONS if o.name == name)
    value, base, where = _raw(config, option)
    return (default if value is None else _convert(option, value, base, where)), where


def _positive(config: pytest.Config, name: str, default: float, *, zero_ok: bool = False) -> Any:
    value, where = _value(config, name, default)
    if value < 0 or (value == 0 and not zero_ok):
        raise pytest.UsageError(f"{where}: must be {'>= 0' if zero_ok else '> 0'}, got {value}")
    return value


def read_settings(config: pytest.Config) -> PluginSettings | None:
    """The validated settings, or None when no DAG folder was given (the plugin stays inert)."""
    folder, _ = _value(config, "windvane_dags", None)
    if folder is None:
        return None
    # Imported only when the plugin is active: it is loaded in every pytest run.
    from windvane.testing.integrity import Baseline, BaselineError, ParseSettings, Policy
    from windvane.testing.integrity.guards import DEFAULT_SECRET_PATTERNS

    if not folder.is_dir():
        raise pytest.UsageError(f"{_value(config, 'windvane_dags', None)[1]}: {folder} is not a folder")
    secret_extra, where = _value(config, "windvane_secret_env", ())
    for pattern in secret_extra:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise pytest.UsageError(f"{where}: {pattern!r} is not a regular expression: {exc}") from None
    parse = ParseSettings(
        timeout=float(_positive(config, "windvane_parse_timeout", 30.0)),
        parallelism=int(_positive(config, "windvane_parse_processes", os.cpu_count() or 1)),
        secret_patterns=(*DEFAULT_SECRET_PATTERNS, *secret_extra),
    )
    policy = Policy(
        parse_budget=float(_positive(config, "windvane_parse_budget", 5.0)),
        require_owner=bool(_value(config, "windvane_require_owner", False)[0]),
        min_retries=int(_positive(config, "windvane_min_retries", 0, zero_ok=True)),
        required_tags=_value(config, "windvane_required_tags", ())[0],
        allowed_tags=_value(config, "windvane_allowed_tags", ())[0],
    )
    baseline_path, where = _value(config, "windvane_baseline", None)
    baseline = None
    if baseline_path is not None:
        try:
            baseline = Baseline.load(baseline_path)
        except BaselineError as exc:
            raise pytest.UsageError(f"{where}: {exc}") from None
    slowest = int(_positive(config, "windvane_slowest", 10, zero_ok=True))
    return PluginSettings(folder, parse, policy, baseline, slowest)
