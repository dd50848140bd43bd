"""Where a running task finds Connections and Variables: the installed secrets resolver.

The process that runs tasks (a worker, ``dags test``, ``tasks test``) builds a
:class:`SecretsResolver` from the settings at its edge (environment → metadata DB by
default; the order is configurable) and installs it with :func:`install_resolver`
before it runs user code. ``BaseHook.get_connection``, ``Variable.get`` and the
templates' ``var`` / ``conn`` read through it. Without one installed, reads raise a
``StoreError`` saying connections/variables are not configured.

Every secret handed out here is registered with the process's masker
(:mod:`windvane.core.task_api.masking`): a Connection's password and its sensitive-named
``extra`` keys, a Variable whose key is sensitive-named. Reads while a DAG file is being
parsed (:func:`parsing`) work but log a warning naming the file and line: a Variable read at
the top level of a DAG file runs at every parse, the first cause of slow parsing in Airflow.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Protocol, runtime_checkable

from windvane.core.model.connection import Connection
from windvane.core.task_api.masking import masker
from windvane.errors import NotFoundError, StoreError

log = logging.getLogger("windvane.secrets")


class SecretsResolver(Protocol):
    """Looks up Connections and Variables; ``None`` when the id/key does not exist anywhere."""

    def get_connection(self, conn_id: str) -> Connection | None:
        """The connection ``conn_id``, or None."""
        ...

    def get_variable(self, key: str) -> str | None:
        """The variable ``key`` as stored text, or None."""
        ...


@runtime_checkable
class VariableWriter(Protocol):
    """A resolver that can also store Variables (the metadata DB backend, a chain holding it)."""

    def set_variable(
        self, key: str, value: str, *, description: str | None = None, sensitive: bool = False
    ) -> None:
        """Create or replace the variable ``key``."""
        ...

    def delete_variable(self, key: str) -> bool:
        """Delete the variable ``key``; whether it existed."""
        ...


_installed: SecretsResolver | None = None
_parsing: list[str] = []


def install_resolver(resolver: SecretsResolver | None) -> None:
    """Make ``resolver`` the one this process reads through (``None`` uninstalls it)."""
    global _installed
    _installed = resolver


def installed_resolver() -> SecretsResolver | None:
    """The resolver installed in this process, if any."""
    return _installed


def _resolver(what: str) -> SecretsResolver:
    if _installed is None:
        raise StoreError(f"cannot read {what}: connections and variables are not configured")
    return _installed


def get_connection(conn_id: str) -> Connection:
    """The connection ``conn_id``; NotFoundError naming it when no backend has it."""
    _warn_if_parsing(f"connection {conn_id!r}")
    found = _resolver(f"connection {conn_id!r}").get_connection(conn_id)
    if found is None:
        raise NotFoundError(f"connection {conn_id!r} does not exist")
    register_connection(found)
    return found


def get_variable(key: str) -> str | None:
    """The variable ``key`` as text, or None when no backend has it."""
    _warn_if_parsing(f"Variable {key!r}")
    value = _resolver(f"variable {key!r}").get_variable(key)
    if value is not None and masker().is_sensitive_name(key):
        masker().add(value)
    return value


def set_variable(key: str, value: str, *, description: str | None = None, sensitive: bool = False) -> None:
    """Store the variable ``key`` through the installed resolver (StoreError if it cannot write)."""
    resolver = _resolver(f"variable {key!r}")
    if not isinstance(resolver, VariableWriter):
        raise StoreError(f"cannot set variable {key!r}: no configured secrets backend stores variables")
    resolver.set_variable(key, value, description=description, sensitive=sensitive)
    if sensitive or masker().is_sensitive_name(key):
        masker().add(value)


def delete_variable(key: str) -> bool:
    """Delete the variable ``key`` through the installed resolver; whether it existed."""
    resolver = _resolver(f"variable {key!r}")
    if not isinstance(resolver, VariableWriter):
        raise StoreError(f"cannot delete variable {key!r}: no configured secrets backend stores variables")
    return resolver.delete_variable(key)


def register_connection(conn: Connection) -> None:
    """Mask ``conn``'s password and the values of its sensitive-named ``extra`` keys."""
    if conn.password:
        masker().add(conn.password)
    if conn.extra:
        try:
            masker().add_sensitive_fields(conn.extra_dejson)
        except Exception:  # an extra that is not a JSON object: nothing to pick from it
            return


@contextmanager
def parsing(path: str) -> Iterator[None]:
    """Within: this process is importing the DAG file ``path`` (reads log a warning naming it)."""
    _parsing.append(path)
    try:
        yield
    finally:
        _parsing.pop()


def _warn_if_parsing(what: str) -> None:
    if not _parsing:
        return
    path = _parsing[-1]
    line = _line_in(path)
    where = f"{path}:{line}" if line else path
    log.warning(
        "%s is read while parsing the DAG file %s: it runs at every parse and slows parsing down; "
        "read it inside a task or a template ({{ var.value.x }}) instead",
        what,
        where,
    )


def _line_in(path: str) -> int | None:
    """The line of ``path`` in the current stack (the DAG file's call), if any."""
    frame: FrameType | None = sys._getframe(2)
    while frame is not None:
        if frame.f_code.co_filename == path:
            return frame.f_lineno
        frame = frame.f_back
    return None
