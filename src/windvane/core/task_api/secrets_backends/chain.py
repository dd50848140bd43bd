"""The chain of backends a process reads through, in the configured order (``[secrets] backends``).

The first backend that has the id or key wins. A backend that fails (a database away, a
plug-in's remote store down) is logged, reported to ``on_error`` (a metric) and skipped; if no
later backend has the value either, the read fails with a :class:`StoreError` naming the failed
backends instead of pretending the value does not exist.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TypeVar

from windvane.core.model.connection import Connection
from windvane.core.task_api.secrets import SecretsResolver, VariableWriter
from windvane.errors import StoreError

log = logging.getLogger("windvane.secrets")
T = TypeVar("T")
#: ``on_error(backend_name, exception)``.
ErrorHook = Callable[[str, Exception], None]


class ChainResolver:
    """Reads through ``backends`` (name, backend) in order; writes go to the first that can."""

    def __init__(
        self, backends: Sequence[tuple[str, SecretsResolver]], *, on_error: ErrorHook | None = None
    ) -> None:
        self.backends = list(backends)
        self._on_error = on_error

    def get_connection(self, conn_id: str) -> Connection | None:
        return self._first(f"connection {conn_id!r}", lambda b: b.get_connection(conn_id))

    def get_variable(self, key: str) -> str | None:
        return self._first(f"variable {key!r}", lambda b: b.get_variable(key))

    def set_variable(
        self, key: str, value: str, *, description: str | None = None, sensitive: bool = False
    ) -> None:
        self._writer(key).set_variable(key, value, description=description, sensitive=sensitive)

    def delete_variable(self, key: str) -> bool:
        return self._writer(key).delete_variable(key)

    def _writer(self, key: str) -> VariableWriter:
        for _name, backend in self.backends:
            if isinstance(backend, VariableWriter):
                return backend
        names = ", ".join(name for name, _ in self.backends) or "none"
        raise StoreError(
            f"cannot write variable {key!r}: none of the secrets backends ({names}) stores variables"
        )

    def _first(self, what: str, read: Callable[[SecretsResolver], T | None]) -> T | None:
        failures: list[str] = []
        for name, backend in self.backends:
            try:
                found = read(backend)
            except Exception as exc:
                log.warning("secrets backend %r failed to read %s: %s", name, what, exc)
                failures.append(f"{name}: {exc}")
                if self._on_error is not None:
                    try:
                        self._on_error(name, exc)
                    except Exception:
                        log.exception("the secrets backend error hook failed")
                continue
            if found is not None:
                return found
        if failures:
            raise StoreError(f"cannot read {what}: " + "; ".join(failures))
        return None
