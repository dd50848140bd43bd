"""Authoring defaults that DAG files cannot be handed as arguments.

A DAG file is user code run by import, so the few settings that shape how it
is read (the time zone of a naive ``start_date``, the default ``catchup``)
cannot be passed in, nor can the configured defaults of ``max_active_runs`` and
``max_active_tasks``. The edge (CLI, DAG processor, test plugin) sets them once
here before any DAG file is imported; nothing else writes them.
"""

from __future__ import annotations

from dataclasses import dataclass

import pendulum
from pendulum.tz.timezone import FixedTimezone, Timezone


@dataclass(frozen=True)
class AuthoringDefaults:
    timezone: Timezone | FixedTimezone = pendulum.UTC
    catchup: bool = True
    #: A DAG's max_active_runs / max_active_tasks when it does not set them
    #: (``[core] max_active_runs_per_dag`` / ``max_active_tasks_per_dag``).
    max_active_runs: int = 16
    max_active_tasks: int = 16


_current = AuthoringDefaults()


def get_authoring_defaults() -> AuthoringDefaults:
    return _current


def set_authoring_defaults(defaults: AuthoringDefaults) -> None:
    """Set once at the edge, before DAG files are imported."""
    global _current
    _current = defaults
