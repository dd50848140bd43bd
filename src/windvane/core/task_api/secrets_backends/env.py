"""The environment backend: ``WINDVANE_CONN_<ID>`` (URI or JSON) and ``WINDVANE_VAR_<KEY>``.

The mapping is handed in by the edge that read the process's environment (the CLI), never read
here. As in Airflow the id or key is upper-cased to form the name: ``my_db`` is
``WINDVANE_CONN_MY_DB``.
"""

from __future__ import annotations

from collections.abc import Mapping

from windvane.core.model.connection import Connection

CONN_PREFIX = "WINDVANE_CONN_"
VAR_PREFIX = "WINDVANE_VAR_"


def secrets_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The entries of ``environ`` this backend reads (what the edge passes on to workers)."""
    return {k: v for k, v in environ.items() if k.startswith((CONN_PREFIX, VAR_PREFIX))}


class EnvironmentBackend:
    """Connections and Variables from environment variables (read-only)."""

    name = "env"

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = secrets_environment(environ)

    def get_connection(self, conn_id: str) -> Connection | None:
        text = self._environ.get(CONN_PREFIX + conn_id.upper())
        if text is None:
            return None
        return Connection.from_text(conn_id, text)

    def get_variable(self, key: str) -> str | None:
        return self._environ.get(VAR_PREFIX + key.upper())

    def connection_ids(self) -> list[str]:
        """The ids defined here (lower-cased, as the names cannot tell the original case)."""
        return sorted(k[len(CONN_PREFIX) :].lower() for k in self._environ if k.startswith(CONN_PREFIX))

    def variable_keys(self) -> list[str]:
        """The keys defined here (lower-cased)."""
        return sorted(k[len(VAR_PREFIX) :].lower() for k in self._environ if k.startswith(VAR_PREFIX))
