"""A Connection: how a task reaches an outside system (Airflow's ``Connection``, as a plain value).

A connection is identified by ``conn_id`` and holds ``conn_type``, ``host``, ``port``,
``login``, ``password``, ``schema`` and ``extra`` (a JSON object as text). It has two
text forms, as in Airflow: a URI (``postgresql://user:pw@host:5432/db?sslmode=require``,
query parameters becoming ``extra``) and a JSON object with the field names as keys.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

from windvane.errors import ConfigError

_FIELDS = ("conn_type", "host", "port", "login", "password", "schema", "extra", "description")


@dataclass(frozen=True)
class Connection:
    """One connection. ``password`` is a secret: never log or print it (see ``redacted``)."""

    conn_id: str
    conn_type: str | None = None
    host: str | None = None
    port: int | None = None
    login: str | None = None
    password: str | None = None
    schema: str | None = None
    extra: str | None = None
    description: str | None = None

    @property
    def extra_dejson(self) -> dict[str, Any]:
        """``extra`` parsed as a JSON object (``{}`` when empty)."""
        if not self.extra:
            return {}
        try:
            value = json.loads(self.extra)
        except ValueError as exc:
            raise ConfigError(f"connection {self.conn_id!r}: extra is not valid JSON: {exc}") from exc
        if not isinstance(value, dict):
            raise ConfigError(f"connection {self.conn_id!r}: extra must be a JSON object")
        return value

    def get_uri(self) -> str:
        """The URI form; ``extra`` becomes the query string (Airflow's layout)."""
        scheme = (self.conn_type or "").replace("_", "-")
        auth = ""
        if self.login is not None or self.password is not None:
            auth = quote(self.login or "", safe="")
            if self.password is not None:
                auth += ":" + quote(self.password, safe="")
            auth += "@"
        host = quote(self.host or "", safe="")
        port = f":{self.port}" if self.port is not None else ""
        path = "/" + quote(self.schema, safe="") if self.schema else ""
        query = ""
        extra = self.extra_dejson
        if extra:
            flat = all(isinstance(v, str) for v in extra.values())
            query = "?" + (urlencode(extra) if flat else urlencode({"__extra__": json.dumps(extra)}))
        return f"{scheme}://{auth}{host}{port}{path}{query}"

    def as_fields(self) -> dict[str, Any]:
        """The fields templates see as ``{{ conn.<id>.<field> }}`` (plus ``extra_dejson``)."""
        return {
            "conn_id": self.conn_id,
            **{name: getattr(self, name) for name in _FIELDS},
            "extra_dejson": self.extra_dejson,
        }

    def redacted(self) -> Connection:
        """A copy safe to print: the password replaced by ``***``."""
        return replace(self, password="***" if self.password else self.password)

    @classmethod
    def from_uri(cls, conn_id: str, uri: str) -> Connection:
        """Parse Airflow's URI form; a malformed URI is a ConfigError naming ``conn_id``."""
        try:
            parts = urlsplit(uri)
            port = parts.port
        except ValueError as exc:
            raise ConfigError(f"connection {conn_id!r}: bad URI: {exc}") from exc
        if not parts.scheme:
            raise ConfigError(f"connection {conn_id!r}: URI {_safe(uri)!r} has no scheme")
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        if "__extra__" in query:
            extra: str | None = query["__extra__"]
        else:
            extra = json.dumps(query) if query else None
        return cls(
            conn_id=conn_id,
            conn_type=parts.scheme.replace("-", "_"),
            host=unquote(parts.hostname or "") or None,
            port=port,
            login=unquote(parts.username) if parts.username is not None else None,
            password=unquote(parts.password) if parts.password is not None else None,
            schema=unquote(parts.path[1:] if parts.path.startswith("/") else parts.path) or None,
            extra=extra,
        )

    @classmethod
    def from_json(cls, conn_id: str, text: str) -> Connection:
        """Parse the JSON form (field names as keys; ``extra`` may be an object or text)."""
        try:
            value = json.loads(text)
        except ValueError as exc:
            raise ConfigError(f"connection {conn_id!r}: not valid JSON: {exc}") from exc
        if not isinstance(value, dict):
            raise ConfigError(f"connection {conn_id!r}: JSON form must be an object")
        unknown = sorted(set(value) - set(_FIELDS))
        if unknown:
            raise ConfigError(
                f"connection {conn_id!r}: unknown field(s) {', '.join(unknown)} (known: {', '.join(_FIELDS)})"
            )
        extra = value.get("extra")
        if isinstance(extra, dict):
            value["extra"] = json.dumps(extra)
        port = value.get("port")
        if port is not None:
            try:
                value["port"] = int(port)
            except (TypeError, ValueError) as exc:
                raise ConfigError(f"connection {conn_id!r}: port {port!r} is not a number") from exc
        return cls(conn_id=conn_id, **value)

    @classmethod
    def from_text(cls, conn_id: str, text: str) -> Connection:
        """The URI or the JSON form, whichever ``text`` is (JSON when it starts with ``{``)."""
        stripped = text.strip()
        if stripped.startswith("{"):
            return cls.from_json(conn_id, stripped)
        return cls.from_uri(conn_id, stripped)


def _safe(uri: str) -> str:
    """``uri`` with any password hidden, for error messages."""
    try:
        parts = urlsplit(uri)
        if parts.password:
            return uri.replace(parts.password, "***")
    except ValueError:
        pass
    return uri
