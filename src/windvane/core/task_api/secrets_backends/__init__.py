"""Secrets backends that need nothing but the task API: the environment and the chain of backends.

The metadata-DB backend lives in :mod:`windvane.core.store.secrets_backend`; plug-ins add theirs
through the entry-point group ``windvane.secrets_backends``. Each backend is a
:class:`~windvane.core.task_api.secrets.SecretsResolver`. May import model and the rest of task_api.
"""
