"""Loading settings: defaults < ``windvane.toml`` < ``WINDVANE__*`` env vars < overrides."""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from windvane.errors import ConfigError
from windvane.settings._format import MASK, is_secret_key, mask_url_password
from windvane.settings._kinds import InvalidValue
from windvane.settings._schema import ENV_PREFIX, KeySpec, Schema, schema
from windvane.settings._sections import Settings, Source

CONFIG_FILE_NAME = "windvane.toml"
HOME_ENV_VAR = "WINDVANE_HOME"
DEFAULT_HOME = Path("~/windvane")


@dataclass(frozen=True)
class _Raw:
    """A value before parsing, and where it came from (for messages)."""

    value: object
    source: Source
    origin: str  # "in /x/windvane.toml" | "from env WINDVANE__A__B" | "from overrides"


def config_file(home: Path) -> Path:
    """The config file read for ``home``: ``<home>/windvane.toml``."""
    return home / CONFIG_FILE_NAME


def resolve_home(home: Path | None, environ: Mapping[str, str]) -> Path:
    """``home`` if given, else ``$WINDVANE_HOME``, else ``~/windvane``; made absolute."""
    if home is None:
        home = Path(environ[HOME_ENV_VAR]) if environ.get(HOME_ENV_VAR) else DEFAULT_HOME
    return home.expanduser().absolute()


def load_settings(
    *,
    home: Path | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Mapping[str, object]] | None = None,
) -> Settings:
    """Read the configuration once; the CLI passes the result into constructors.

    ``environ`` defaults to :data:`os.environ` only when ``None`` (pass ``{}``
    to ignore the environment). ``overrides`` (``{"core": {"parallelism": 4}}``)
    win over everything; ``None`` values in it are ignored. Raises
    :class:`~windvane.errors.ConfigError` naming the key and its source for an
    unknown key, a bad value, or an unreadable or invalid ``windvane.toml``.
    """
    env: Mapping[str, str] = os.environ if environ is None else environ
    home = resolve_home(home, env)
    known = schema()
    raw: dict[str, _Raw] = {}
    raw.update(_from_file(known, config_file(home)))
    raw.update(_from_env(known, env))
    raw.update(_from_overrides(known, overrides or {}))

    sections: dict[str, Any] = {}
    for section, specs in known.keys.items():
        values = {name: _value(spec, raw.get(spec.dotted), home) for name, spec in specs.items()}
        sections[section] = known.section_types[section](**values)
    sources = MappingProxyType({dotted: item.source for dotted, item in raw.items()})
    return Settings(home=home, **sections, sources=sources)


def _value(spec: KeySpec, item: _Raw | None, home: Path) -> Any:
    if item is None:
        return spec.resolve(spec.parse(spec.default), home)
    try:
        value = spec.parse(item.value)
    except InvalidValue as exc:
        raise ConfigError(f"config key {spec.dotted!r} ({item.origin}): {exc}") from None
    except ValueError:
        raise ConfigError(
            f"config key {spec.dotted!r} ({item.origin}) must be {spec.expected}, "
            f"got {_shown(spec.name, item.value)}"
        ) from None
    return spec.resolve(value, home)


def _shown(key: str, value: object) -> str:
    if is_secret_key(key):
        return repr(MASK)
    return repr(mask_url_password(value)) if isinstance(value, str) else repr(value)


def _unknown(known: Schema, section: str | None, key: str | None, origin: str) -> ConfigError:
    what = "section" if key is None else "key"
    name = ".".join(part for part in (section, key) if part)
    hint = known.suggest(section, key)
    suffix = f"; did you mean {hint!r}?" if hint else ""
    if hint is None and key is not None and section is not None and section not in known.keys:
        section_hint = known.suggest(section, None)
        suffix = f"; did you mean section {section_hint!r}?" if section_hint else ""
    return ConfigError(f"unknown config {what} {name!r} ({origin}){suffix}")


def _from_file(known: Schema, path: Path) -> dict[str, _Raw]:
    document = _read_toml(path)
    origin = f"in {path}"
    found: dict[str, _Raw] = {}
    for section, table in document.items():
        if section not in known.keys:
            if isinstance(table, dict):
                raise _unknown(known, section, None, origin)
            raise _unknown(known, None, section, origin)
        if not isinstance(table, dict):
            raise ConfigError(f"config section {section!r} ({origin}) must be a table, got {table!r}")
        for key, value in table.items():
            spec = known.find(section, key)
            if spec is None:
                raise _unknown(known, section, key, origin)
            found[spec.dotted] = _Raw(value, "file", origin)
    return found


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror or exc}") from exc
    try:
        return tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid UTF-8 (byte {exc.start})") from None
    except tomllib.TOMLDecodeError as exc:
        line = re.search(r"\bline (\d+)", str(exc))
        where = f", line {line[1]}" if line else ""
        raise ConfigError(f"invalid TOML in {path}{where}: {exc}") from None


def _from_env(known: Schema, environ: Mapping[str, str]) -> dict[str, _Raw]:
    found: dict[str, _Raw] = {}
    for name in sorted(environ):
        if not name.startswith(ENV_PREFIX):
            continue
        parts = name[len(ENV_PREFIX) :].lower().split("__")
        origin = f"from env {name}"
        if len(parts) != 2 or not all(parts):
            raise ConfigError(
                f"environment variable {name} does not name a config key; "
                f"expected {ENV_PREFIX}<SECTION>__<KEY>"
            )
        section, key = parts
        spec = known.find(section, key)
        if spec is None:
            raise _unknown(known, section, key, origin)
        found[spec.dotted] = _Raw(environ[name], "env", origin)
    return found


def _from_overrides(known: Schema, overrides: Mapping[str, Mapping[str, object]]) -> dict[str, _Raw]:
    found: dict[str, _Raw] = {}
    for section, table in overrides.items():
        if section not in known.keys:
            raise _unknown(known, section, None, "from overrides")
        for key, value in table.items():
            spec = known.find(section, key)
            if spec is None:
                raise _unknown(known, section, key, "from overrides")
            if value is not None:
                found[spec.dotted] = _Raw(value, "override", "from overrides")
    return found
