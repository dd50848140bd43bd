"""Building and installing the secrets resolver of a process that runs user code.

:func:`build_resolver` turns a :class:`~windvane.core.model.secrets_config.SecretsConfig` into
the chain of its backends: ``env`` (:class:`EnvironmentBackend`), ``metastore``
(:class:`MetastoreBackend`) or a plug-in's (entry-point group ``windvane.secrets_backends``).
:func:`install_secrets` installs it (:func:`windvane.core.task_api.secrets.install_resolver`) and
sets the masker's sensitive names. Workers call it once before their first try (forked task
children inherit it), the DAG processor before parsing, the in-process runners before running.
"""

from __future__ import annotations

from windvane.core.model.secrets_config import SecretsConfig
from windvane.core.store.fernet import FernetCodec
from windvane.core.store.secrets_backend import MetastoreBackend
from windvane.core.task_api.masking import masker
from windvane.core.task_api.secrets import SecretsResolver, install_resolver
from windvane.core.task_api.secrets_backends.chain import ChainResolver, ErrorHook
from windvane.core.task_api.secrets_backends.env import EnvironmentBackend
from windvane.errors import ConfigError
from windvane.plugins import SECRETS_BACKENDS_GROUP, EntryPointLoader, entry_points_of, load_entry_point

BUILT_IN = ("env", "metastore")


def build_resolver(
    config: SecretsConfig, *, plugins: EntryPointLoader | None = None, on_error: ErrorHook | None = None
) -> ChainResolver:
    """The chain of ``config.backends`` in order; an unknown name is a ConfigError listing the known."""
    backends: list[tuple[str, SecretsResolver]] = []
    for name in config.backends:
        backends.append((name, _backend(name, config, plugins)))
    return ChainResolver(backends, on_error=on_error)


def install_secrets(
    config: SecretsConfig | None,
    *,
    plugins: EntryPointLoader | None = None,
    on_error: ErrorHook | None = None,
) -> None:
    """Install the resolver of ``config`` in this process (None: leave things as they are)."""
    if config is None:
        return
    masker().set_sensitive_names(config.sensitive_names)
    install_resolver(build_resolver(config, plugins=plugins, on_error=on_error))


def _backend(name: str, config: SecretsConfig, plugins: EntryPointLoader | None) -> SecretsResolver:
    if name == "env":
        return EnvironmentBackend(config.environ)
    if name == "metastore":
        return MetastoreBackend(config.db_url, FernetCodec(config.fernet_keys))
    entries = {entry.name: entry for entry in entry_points_of(SECRETS_BACKENDS_GROUP, plugins)}
    entry = entries.get(name)
    if entry is None:
        known = ", ".join([*BUILT_IN, *sorted(entries)])
        raise ConfigError(f"[secrets] backends: unknown secrets backend {name!r} (known: {known})")
    backend: SecretsResolver = load_entry_point(entry, SECRETS_BACKENDS_GROUP)(config)
    return backend
