"""An isolated Windvane home for tests: its own ``WINDVANE_HOME``, metadata database, variables, connections.

:func:`create_env` makes a :class:`WindvaneEnv` in a folder: ``windvane.toml``
pointing at a migrated SQLite database in that folder and at its ``dags``
folder. :meth:`WindvaneEnv.activated` sets ``WINDVANE_HOME`` (and the database
URL) in ``os.environ`` for a block, so the CLI or settings read in that block
see the sandbox, never the developer's home.

Variables and connections (their storage comes with a later issue) are held by
the env: :meth:`~WindvaneEnv.set_variable`, :meth:`~WindvaneEnv.set_connection`,
or per run with ``run_dag(..., variables=..., connections=...)``. Tasks read
them through the context (``var.value.key``, ``conn.my_db.host``, templates
alike), and while a run is active they are also in the environment as
``WINDVANE_VAR_<KEY>`` (text) and ``WINDVANE_CONN_<CONN_ID>`` (JSON), as
Airflow's ``AIRFLOW_VAR_*``/``AIRFLOW_CONN_*`` habit expects.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from windvane.core.store.engine import create_db_engine
from windvane.core.task_api.templating import ConnectionGetter, VariableGetter
from windvane.settings import CONFIG_FILE_NAME, HOME_ENV_VAR, Settings, load_settings
from windvane.testing.database import SqliteTemplate, migrated_engine, sqlite_url

#: Prefixes of the environment variables that carry variables and connections during a run.
VARIABLE_ENV_PREFIX = "WINDVANE_VAR_"
CONNECTION_ENV_PREFIX = "WINDVANE_CONN_"
_DB_ENV_VAR = "WINDVANE__DATABASE__SQL_ALCHEMY_CONN"


def variable_text(value: object) -> str:
    """How a variable is stored: text as given, anything else as JSON (``var.json`` reads it back)."""
    return value if isinstance(value, str) else json.dumps(value)


@dataclass
class WindvaneEnv:
    """One sandboxed Windvane home (see the module doc)."""

    home: Path
    db_url: str
    variables: dict[str, str] = field(default_factory=dict)
    connections: dict[str, dict[str, Any]] = field(default_factory=dict)
    _engine: Engine | None = field(default=None, repr=False)

    @property
    def dags_folder(self) -> Path:
        return self.home / "dags"

    @property
    def environ(self) -> dict[str, str]:
        """The environment variables that point a Windvane process at this sandbox."""
        return {HOME_ENV_VAR: str(self.home), _DB_ENV_VAR: self.db_url}

    @property
    def engine(self) -> Engine:
        """An engine on the sandbox's metadata database (made on first use, disposed by :meth:`close`)."""
        if self._engine is None:
            self._engine = create_db_engine(self.db_url)
        return self._engine

    def settings(self, **overrides: Mapping[str, object]) -> Settings:
        """The settings a Windvane process in this sandbox reads (``overrides`` per section)."""
        return load_settings(home=self.home, environ=self.environ, overrides=overrides)

    def set_variable(self, key: str, value: object) -> None:
        """Store variable ``key`` (text as given, other values as JSON)."""
        self.variables[key] = variable_text(value)

    def set_connection(self, conn_id: str, **fields: Any) -> None:
        """Store connection ``conn_id`` with its fields (``host``, ``login``, ``schema``, ``extra``...)."""
        self.connections[conn_id] = dict(fields)

    def reset(self) -> None:
        """Forget the variables and connections (between tests sharing a session sandbox)."""
        self.variables.clear()
        self.connections.clear()

    def var_getter(self, overlay: Mapping[str, object] | None = None) -> VariableGetter:
        """The context's variable reader: ``overlay`` over the stored variables."""
        merged = {**self.variables, **{k: variable_text(v) for k, v in (overlay or {}).items()}}
        return merged.get

    def conn_getter(self, overlay: Mapping[str, Mapping[str, Any]] | None = None) -> ConnectionGetter:
        """The context's connection reader: ``overlay`` over the stored connections."""
        merged = {**self.connections, **{k: dict(v) for k, v in (overlay or {}).items()}}
        return merged.get

    @contextmanager
    def activated(
        self,
        variables: Mapping[str, object] | None = None,
        connections: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> Iterator[None]:
        """Point ``os.environ`` at this sandbox for the block (restored after), with the
        variables and connections (``overlay`` over the stored ones) as ``WINDVANE_VAR_*`` /
        ``WINDVANE_CONN_*``."""
        values = dict(self.environ)
        for key, text in {
            **self.variables,
            **{k: variable_text(v) for k, v in (variables or {}).items()},
        }.items():
            values[VARIABLE_ENV_PREFIX + key.upper()] = text
        for conn_id, fields in {**self.connections, **dict(connections or {})}.items():
            values[CONNECTION_ENV_PREFIX + conn_id.upper()] = json.dumps(dict(fields), default=str)
        saved = {key: os.environ.get(key) for key in values}
        os.environ.update(values)
        try:
            yield
        finally:
            for key, old in saved.items():
                if old is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = old

    def close(self) -> None:
        """Dispose of the engine, if one was made."""
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None


def create_env(home: Path, *, template: SqliteTemplate | None = None) -> WindvaneEnv:
    """A sandbox in ``home`` (created): ``windvane.toml``, a ``dags`` folder and a migrated SQLite
    database ``windvane.db`` (a copy of ``template`` when given: ten times faster than migrating)."""
    home.mkdir(parents=True, exist_ok=True)
    (home / "dags").mkdir(exist_ok=True)
    url = sqlite_url(home)
    if template is not None:
        template.engine(home).dispose()
    else:
        migrated_engine(url).dispose()
    (home / CONFIG_FILE_NAME).write_text(
        f'[core]\ndags_folder = "{home / "dags"}"\n\n[database]\nsql_alchemy_conn = "{url}"\n'
    )
    return WindvaneEnv(home=home, db_url=url)
