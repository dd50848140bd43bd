"""How a process that runs user code finds Connections and Variables: a plain, picklable value.

The edge (the CLI) builds it from the settings and the environment it read, and hands it to
executors (which pass it to their workers), the DAG processor and the in-process runners;
:func:`windvane.core.worker.secrets_setup.install_secrets` turns it into the installed resolver.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

#: The backends read by default, in order: environment variables, then the metadata DB.
DEFAULT_BACKENDS = ("env", "metastore")


@dataclass(frozen=True)
class SecretsConfig:
    """``[secrets] backends``, ``[core] fernet_key``, ``[core] sensitive_var_conn_names``, the
    ``WINDVANE_CONN_*``/``WINDVANE_VAR_*`` environment entries and the metadata DB's URL."""

    db_url: str
    backends: tuple[str, ...] = DEFAULT_BACKENDS
    fernet_keys: tuple[str, ...] = field(default=(), repr=False)
    sensitive_names: tuple[str, ...] = ()
    environ: Mapping[str, str] = field(default_factory=dict, repr=False)
