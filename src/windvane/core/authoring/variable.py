"""``Variable``: Airflow's key/value settings for DAGs, read and written through the secrets backends.

``Variable.get`` reads through the resolver installed in the process (environment variables,
then the metadata DB, by default; see docs/connections.md). Reading one at the top level of a
DAG file works but logs a warning naming the file and line: it runs at every parse. Prefer
``{{ var.value.key }}`` in a templated field, which is read when the task runs.
"""

from __future__ import annotations

import json
from typing import Any

from windvane.core.task_api import secrets
from windvane.errors import SerializationError, VariableNotFoundError

_MISSING: Any = object()


class Variable:
    """Static accessors of Variables (``Variable.get("key")``, ``Variable.set("key", value)``)."""

    @staticmethod
    def get(key: str, default_var: Any = _MISSING, deserialize_json: bool = False) -> Any:
        """The variable ``key`` (parsed as JSON with ``deserialize_json``); ``default_var`` when it
        does not exist, else :class:`~windvane.errors.VariableNotFoundError` (a ``KeyError``)."""
        text = secrets.get_variable(key)
        if text is None:
            if default_var is _MISSING:
                raise VariableNotFoundError(f"Variable {key!r} does not exist")
            return default_var
        if not deserialize_json:
            return text
        try:
            return json.loads(text)
        except ValueError as exc:
            raise SerializationError(f"Variable {key!r} is not valid JSON: {exc}") from exc

    @staticmethod
    def set(
        key: str,
        value: Any,
        description: str | None = None,
        serialize_json: bool = False,
        *,
        sensitive: bool = False,
    ) -> None:
        """Create or replace ``key`` in the first backend that stores variables (the metadata DB).

        ``value`` is stored as ``str(value)``, or as JSON with ``serialize_json``. ``sensitive``
        masks its value in logs and the CLI whatever the key is named.
        """
        if serialize_json:
            try:
                text = json.dumps(value, indent=2)
            except (TypeError, ValueError) as exc:
                raise SerializationError(f"Variable {key!r}: value is not JSON-serializable: {exc}") from exc
        else:
            text = str(value)
        secrets.set_variable(key, text, description=description, sensitive=sensitive)

    @staticmethod
    def delete(key: str) -> bool:
        """Delete ``key``; whether it existed."""
        return secrets.delete_variable(key)
