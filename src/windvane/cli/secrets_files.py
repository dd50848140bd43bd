"""Reading and writing Connections and Variables files for ``import`` / ``export``.

Connections: JSON or YAML ``{conn_id: URI or {field: value}}``, or ``.env`` lines
``CONN_ID=URI`` (Airflow's local-filesystem formats). Variables: JSON or YAML ``{key: value}``
(a non-text value is stored as its JSON), or ``.env`` lines ``KEY=value``.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from windvane.cli.base import UsageError
from windvane.core.model.connection import Connection
from windvane.errors import ConfigError


def read_mapping(path: Path) -> dict[str, Any]:
    """The ``{id: value}`` mapping of a JSON, YAML or ``.env`` file; UsageError naming the file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    suffix = path.suffix.lower()
    try:
        if suffix == ".env":
            return _env_lines(text, path)
        data = _yaml().safe_load(text) if suffix in (".yaml", ".yml") else json.loads(text)
    except UsageError:
        raise
    except Exception as exc:  # json's ValueError, PyYAML's YAMLError
        raise UsageError(f"{path} is not valid {suffix.lstrip('.') or 'JSON'}: {exc}") from None
    if not isinstance(data, dict):
        raise UsageError(f"{path} must hold an object (a mapping of ids to values)")
    return {str(k): v for k, v in data.items()}


def read_connections(path: Path) -> list[Connection]:
    found: list[Connection] = []
    for conn_id, value in read_mapping(path).items():
        try:
            if isinstance(value, str):
                found.append(Connection.from_text(conn_id, value))
            elif isinstance(value, Mapping):
                fields = {k: v for k, v in value.items() if k != "conn_id"}
                found.append(Connection.from_json(conn_id, json.dumps(fields)))
            else:
                raise ConfigError(f"connection {conn_id!r}: expected a URI or an object")
        except ConfigError as exc:
            raise UsageError(f"{path}: {exc}") from None
    return found


def dump_connections(conns: Sequence[Connection], fmt: str) -> str:
    if fmt == "env":
        return "".join(f"{c.conn_id}={c.get_uri()}\n" for c in conns)
    data = {c.conn_id: _fields(c) for c in conns}
    return _dump(data, fmt)


def dump_variables(values: Mapping[str, str | None], fmt: str) -> str:
    if fmt == "env":
        return "".join(f"{k}={v or ''}\n" for k, v in values.items())
    return _dump(dict(values), fmt)


def _fields(conn: Connection) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for name in ("conn_type", "description", "host", "login", "password", "schema", "port"):
        value = getattr(conn, name)
        if value is not None:
            fields[name] = value
    if conn.extra:
        fields["extra"] = conn.extra_dejson
    return fields


def _dump(data: dict[str, Any], fmt: str) -> str:
    if fmt == "yaml":
        return str(_yaml().safe_dump(data, sort_keys=True))
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


def _yaml() -> Any:
    """PyYAML, imported when a YAML file is read or written (UsageError when it is not installed)."""
    try:
        return importlib.import_module("yaml")
    except ImportError:
        raise UsageError("YAML files need PyYAML (pip install pyyaml); use JSON or .env instead") from None


def _env_lines(text: str, path: Path) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        key, sep, value = stripped.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"{path}, line {number}: expected KEY=VALUE")
        found[key.strip()] = value.strip()
    return found
