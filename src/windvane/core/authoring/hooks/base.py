"""``BaseHook``: Airflow's base class for hooks, reading Connections at run time."""

from __future__ import annotations

from windvane.core.model.connection import Connection
from windvane.core.task_api import secrets


class BaseHook:
    """Base class of every hook; subclasses add the client of one kind of system."""

    @classmethod
    def get_connection(cls, conn_id: str) -> Connection:
        """The connection ``conn_id`` from the installed secrets backends (NotFoundError if none)."""
        return secrets.get_connection(conn_id)
