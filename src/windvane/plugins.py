"""Plug-ins: the entry-point groups Windvane reads, and the one way it reads them.

A plug-in is an installed distribution declaring entry points in these groups::

    [project.entry-points."windvane.executors"]     # name -> factory(ExecutorOptions) -> Executor
    k8s = "windvane_k8s.executor:create"
    [project.entry-points."windvane.migrations"]    # name -> package whose folder holds Alembic versions
    windvane_k8s = "windvane_k8s.migrations"
    [project.entry-points."windvane.services"]      # name -> factory(ServiceContext) -> Service
    k8s_watcher = "windvane_k8s.watcher:create"
    [project.entry-points."windvane.secrets_backends"]  # name -> factory(SecretsConfig) -> backend
    vault = "windvane_vault.backend:create"
    [project.entry-points."windvane.cleaners"]      # name -> clean(conn, older_than, dry_run) -> {table: n}
    windvane_k8s = "windvane_k8s.retention:clean"   # called by `windvane db clean`

What may be used from a plug-in is listed in :mod:`windvane.core.interfaces`.

Everything that discovers plug-ins takes an :data:`EntryPointLoader` (``None``
means the installed distributions), so tests hand in their own entry points
instead of patching :mod:`importlib.metadata`. This module imports nothing
else from Windvane but its errors: core may use it.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from windvane.errors import PluginError

#: Executor factories: ``factory(options: ExecutorOptions) -> Executor``.
EXECUTORS_GROUP = "windvane.executors"
#: Packages whose folder holds a plug-in's Alembic revisions (a branch of its own).
MIGRATIONS_GROUP = "windvane.migrations"
#: Service factories: ``factory(context: ServiceContext) -> Service``.
SERVICES_GROUP = "windvane.services"
#: Secrets backends named in ``[secrets] backends``: ``factory(config: SecretsConfig) -> backend``
#: (a ``SecretsResolver``: ``get_connection``/``get_variable``).
SECRETS_BACKENDS_GROUP = "windvane.secrets_backends"

#: ``windvane db clean`` calls each entry point's cleaner with the cutoff: the plug-in's old rows go too.
CLEANERS_GROUP = "windvane.cleaners"


class EntryPointLike(Protocol):
    """What Windvane uses of an :class:`importlib.metadata.EntryPoint`."""

    @property
    def name(self) -> str: ...

    @property
    def value(self) -> str: ...

    def load(self) -> Any: ...


#: ``loader(group)`` -> the entry points declared in ``group``.
EntryPointLoader = Callable[[str], Iterable[EntryPointLike]]


def installed_entry_points(group: str) -> list[EntryPointLike]:
    """The entry points of ``group`` declared by the installed distributions."""
    import importlib.metadata  # here, not at the top: lean workers import this module and never call this

    return list(importlib.metadata.entry_points(group=group))


def entry_points_of(group: str, loader: EntryPointLoader | None = None) -> list[EntryPointLike]:
    """The entry points of ``group``, sorted by name; two with one name are an error naming both."""
    found = sorted((loader or installed_entry_points)(group), key=lambda entry: entry.name)
    for before, after in itertools.pairwise(found):
        if before.name == after.name:
            raise PluginError(
                f"two plug-ins declare {before.name!r} in entry-point group {group!r}: "
                f"{before.value!r} and {after.value!r}"
            )
    return found


def load_entry_point(entry: EntryPointLike, group: str) -> Any:
    """Import what ``entry`` names; any failure is a :class:`PluginError` naming the entry point."""
    try:
        return entry.load()
    except Exception as exc:
        raise PluginError(f"{describe(entry, group)} failed to load: {type(exc).__name__}: {exc}") from exc


def describe(entry: EntryPointLike, group: str) -> str:
    """``entry point 'k8s = windvane_k8s.executor:create' (group 'windvane.executors')``."""
    return f"entry point '{entry.name} = {entry.value}' (group {group!r})"
