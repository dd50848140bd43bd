"""Jinja2 templating of task fields, in a sandbox, with Airflow's filters and accessors.

Templates run in :class:`jinja2.sandbox.SandboxedEnvironment`, which refuses
attributes starting with ``_`` (so ``{{ ''.__class__.__mro__ }}`` fails), and
with :class:`jinja2.StrictUndefined` by default, so ``{{ typo }}`` fails loudly
instead of rendering as an empty string.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from os import PathLike
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from windvane.errors import (
    NotFoundError,
    SerializationError,
    StoreError,
    TemplateRenderError,
    WindvaneError,
)

VariableGetter = Callable[[str], str | None]
ConnectionGetter = Callable[[str], Mapping[str, Any] | None]


def ds_filter(value: date) -> str:
    """``2024-01-31``."""
    return value.strftime("%Y-%m-%d")


def ds_nodash_filter(value: date) -> str:
    """``20240131``."""
    return value.strftime("%Y%m%d")


def ts_filter(value: datetime) -> str:
    """ISO 8601 with offset: ``2024-01-31T00:00:00+00:00``."""
    return value.isoformat()


def ts_nodash_filter(value: datetime) -> str:
    """``20240131T000000`` (no fraction, no offset)."""
    return value.strftime("%Y%m%dT%H%M%S")


def ts_nodash_with_tz_filter(value: datetime) -> str:
    """``20240131T000000+0000`` (fraction kept when non-zero, as Airflow does)."""
    # Not isoformat().replace("-", ""): that would also drop the sign of a negative offset.
    wall = value.replace(tzinfo=None).isoformat().replace("-", "").replace(":", "")
    return wall + value.strftime("%z")


FILTERS: Mapping[str, Callable[..., str]] = {
    "ds": ds_filter,
    "ds_nodash": ds_nodash_filter,
    "ts": ts_filter,
    "ts_nodash": ts_nodash_filter,
    "ts_nodash_with_tz": ts_nodash_with_tz_filter,
}


def make_jinja_env(
    *, searchpath: Sequence[str | PathLike[str]] | None = None, undefined_strict: bool = True
) -> SandboxedEnvironment:
    """Return the sandboxed environment tasks render with.

    ``searchpath`` (usually the DAG file's folder) is where template files
    named by a field (``bash_command="run.sh"``) are looked up. Trailing
    newlines are kept: rendering should change a script only where it says so.
    """
    env = SandboxedEnvironment(
        loader=jinja2.FileSystemLoader(searchpath) if searchpath else None,
        undefined=jinja2.StrictUndefined if undefined_strict else jinja2.Undefined,
        extensions=["jinja2.ext.do"],
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.filters.update(FILTERS)
    return env


def render_value(
    value: Any, context: Mapping[str, Any], env: jinja2.Environment, *, template_ext: Sequence[str] = ()
) -> Any:
    """Render ``value`` against ``context``.

    A ``str`` is a template, or, if it ends with one of ``template_ext``
    (e.g. ``".sql"``), the name of a template file loaded through ``env``'s
    loader. Lists, tuples (named ones too), sets and dict values are rendered
    recursively; dict keys and all other objects are returned unchanged.
    Jinja's own exceptions propagate.
    """
    if isinstance(value, str):
        if template_ext and value.endswith(tuple(template_ext)):
            if env.loader is None:
                raise jinja2.TemplateNotFound(value, f"template file {value!r}: no searchpath is configured")
            return env.get_template(value).render(context)
        return env.from_string(value).render(context)
    if isinstance(value, list | tuple | set | frozenset):
        items = [render_value(item, context, env, template_ext=template_ext) for item in value]
        if isinstance(value, list):
            return items
        if isinstance(value, tuple):
            return type(value)(*items) if hasattr(value, "_fields") else tuple(items)
        return frozenset(items) if isinstance(value, frozenset) else set(items)
    if isinstance(value, dict):
        return {
            key: render_value(item, context, env, template_ext=template_ext) for key, item in value.items()
        }
    return value


def render_template_fields(
    obj: object,
    field_names: Sequence[str],
    context: Mapping[str, Any],
    env: jinja2.Environment,
    *,
    template_ext: Sequence[str] = (),
    owner: str,
) -> None:
    """Render the attributes ``field_names`` of ``obj`` in place.

    All fields are rendered before any is set, so a failure leaves ``obj``
    untouched. It raises :class:`TemplateRenderError` naming ``owner`` (e.g.
    ``"task 'load' in DAG 'etl'"``), the field and the underlying error.
    """
    rendered: dict[str, Any] = {}
    for name in field_names:
        try:
            value = getattr(obj, name)
        except AttributeError:
            raise TemplateRenderError(
                f"{owner} lists template field {name!r} but has no such attribute"
            ) from None
        try:
            rendered[name] = render_value(value, context, env, template_ext=template_ext)
        except Exception as exc:  # whatever a template calls may raise; all of it is a render failure
            raise TemplateRenderError(
                f"{owner}: cannot render template field {name!r}: {_describe(exc)}"
            ) from exc
    for name, value in rendered.items():
        setattr(obj, name, value)


def _describe(exc: Exception) -> str:
    if isinstance(exc, jinja2.TemplateNotFound) and exc.message == exc.name:  # a loader that says no more
        return f"template file {exc.name!r} not found"
    if isinstance(exc, jinja2.TemplateSyntaxError):
        where = f" in {exc.name!r}" if exc.name else ""
        return f"syntax error{where} at line {exc.lineno}: {exc.message}"
    if isinstance(exc, jinja2.TemplateError | WindvaneError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


_MISSING: Any = object()


def _variables_not_configured(key: str) -> str | None:
    raise StoreError(f"cannot read variable {key!r}: variables are not configured")


def _connections_not_configured(conn_id: str) -> Mapping[str, Any] | None:
    raise StoreError(f"cannot read connection {conn_id!r}: connections are not configured")


class _Variables:
    """``var.value`` / ``var.json``: ``.key``, ``['key']`` or ``.get('key', default)``."""

    def __init__(self, getter: VariableGetter, *, as_json: bool) -> None:
        self._getter = getter
        self._as_json = as_json

    def get(self, key: str, default: Any = _MISSING) -> Any:
        """The variable ``key``; ``default`` (returned as given) if it does not exist."""
        text = self._getter(key)
        if text is None:
            if default is _MISSING:
                raise NotFoundError(f"variable {key!r} does not exist")
            return default
        if not self._as_json:
            return text
        try:
            return json.loads(text)
        except ValueError as exc:
            raise SerializationError(f"variable {key!r} is not valid JSON: {exc}") from exc

    def __getattr__(self, key: str) -> Any:
        if key.startswith("_"):  # dunder probes (copy, pickle, Jinja) must see a plain AttributeError
            raise AttributeError(key)
        return self.get(key)

    def __getitem__(self, key: str) -> Any:
        return self.get(key)


class VariableAccessor:
    """Airflow's ``var``: ``{{ var.value.key }}`` (text), ``{{ var.json.key.field }}`` (parsed).

    A missing variable raises :class:`NotFoundError` naming it, unless a
    default is given: ``{{ var.value.get('key', 'fallback') }}``. Use
    ``var.value['get']`` for a variable whose name is ``get``.
    """

    def __init__(self, getter: VariableGetter | None = None) -> None:
        getter = getter or _variables_not_configured
        self.value = _Variables(getter, as_json=False)
        self.json = _Variables(getter, as_json=True)


class ConnectionView:
    """One connection's fields, read-only: ``conn.my_conn.host`` or ``conn.my_conn['host']``."""

    def __init__(self, conn_id: str, fields: Mapping[str, Any]) -> None:
        self._conn_id = conn_id
        self._fields = dict(fields)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return self[name]

    def __getitem__(self, name: str) -> Any:
        try:
            return self._fields[name]
        except KeyError:
            known = ", ".join(sorted(self._fields)) or "none"
            raise NotFoundError(
                f"connection {self._conn_id!r} has no field {name!r} (its fields: {known})"
            ) from None


class ConnectionAccessor:
    """Airflow's ``conn``: ``{{ conn.my_conn.host }}``; a missing connection raises NotFoundError."""

    def __init__(self, getter: ConnectionGetter | None = None) -> None:
        self._getter = getter or _connections_not_configured

    def get(self, conn_id: str) -> ConnectionView:
        fields = self._getter(conn_id)
        if fields is None:
            raise NotFoundError(f"connection {conn_id!r} does not exist")
        return ConnectionView(conn_id, fields)

    def __getattr__(self, conn_id: str) -> ConnectionView:
        if conn_id.startswith("_"):
            raise AttributeError(conn_id)
        return self.get(conn_id)

    def __getitem__(self, conn_id: str) -> ConnectionView:
        return self.get(conn_id)
