"""The secrets the CLI masks in what it shows from tasks (their logs): every one it can find.

A task's log is masked when written; this is the second line of defence for logs written
before a secret was stored or registered (a password a task got some other way, then added as a
Connection): the passwords and sensitive-named extras of every stored and environment
Connection, and every Variable marked sensitive or with a sensitive-named key.
"""

from __future__ import annotations

import logging
import os

from windvane.cli.wiring import fernet_codec, open_engine, secrets_config
from windvane.core.store import secrets_sql
from windvane.core.store.engine import begin_read
from windvane.core.store.sql_bridge import dbapi_tx
from windvane.core.task_api import secrets
from windvane.core.task_api.masking import masker
from windvane.core.task_api.secrets_backends.env import EnvironmentBackend
from windvane.settings import Settings

log = logging.getLogger(__name__)


def register_known_secrets(settings: Settings) -> None:
    """Register every secret found in the metadata DB and the environment with the masker."""
    env = EnvironmentBackend(secrets_config(settings, os.environ).environ)
    try:
        for conn_id in env.connection_ids():
            conn = env.get_connection(conn_id)
            if conn is not None:
                secrets.register_connection(conn)
        for key in env.variable_keys():
            value = env.get_variable(key)
            if value is not None and masker().is_sensitive_name(key):
                masker().add(value)
        codec = fernet_codec(settings)
        with open_engine(settings) as engine, begin_read(engine) as db:
            tx = dbapi_tx(db)
            for conn in secrets_sql.list_connections(tx, codec):
                secrets.register_connection(conn)
            for variable in secrets_sql.list_variables(tx, codec):
                if variable.value and (variable.is_sensitive or masker().is_sensitive_name(variable.key)):
                    masker().add(variable.value)
    except Exception as exc:  # showing the log matters more: it was masked when written
        log.warning("could not load the stored secrets to mask: %s", exc)
