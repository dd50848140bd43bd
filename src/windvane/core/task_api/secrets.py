"""Where a running task finds Connections and Variables: the installed secrets resolver.

The process that runs tasks (a worker, ``dags test``, ``tasks test``) builds a
:class:`SecretsResolver` from the settings at its edge (environment → metadata DB by
default; the order is configurable) and installs it with :func:`install_resolver`
before it runs user code. ``BaseHook.get_connection``, ``Variable.get`` and the
templates' ``var`` / ``conn`` read through it. Without one installed, reads raise a
``StoreError`` saying connections/variables are not configured.
"""

from __future__ import annotations

from typing import Protocol

from windvane.core.model.connection import Connection
from windvane.errors import NotFoundError, StoreError


class SecretsResolver(Protocol):
    """Looks up Connections and Variables; ``None`` when the id/key does not exist anywhere."""

    def get_connection(self, conn_id: str) -> Connection | None:
        """The connection ``conn_id``, or None."""
        ...

    def get_variable(self, key: str) -> str | None:
        """The variable ``key`` as stored text, or None."""
        ...


_installed: SecretsResolver | None = None


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
    found = _resolver(f"connection {conn_id!r}").get_connection(conn_id)
    if found is None:
        raise NotFoundError(f"connection {conn_id!r} does not exist")
    return found


def get_variable(key: str) -> str | None:
    """The variable ``key`` as text, or None when no backend has it."""
    return _resolver(f"variable {key!r}").get_variable(key)
