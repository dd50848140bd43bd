"""The rendered template fields of a try as the JSON stored beside its outcome.

The try's process renders the fields (:func:`windvane.core.task_api.templating.render_template_fields`)
and, before ``execute``, turns them into one JSON object here, masked with this process's secrets
masker: every registered secret becomes ``***`` wherever it appears, and a field or dict key named
like a secret (``password``, ``token``, ...) is masked whole, as Airflow's ``redact`` does. A value
is kept as JSON when it is JSON (strings, numbers, booleans, null, lists, dicts with string keys),
else as its ``str()``; a field longer than :data:`MAX_FIELD_CHARS` characters of JSON is cut to
that many characters of text (Airflow's ``max_templated_field_length``). A task whose fields all
rendered empty stores nothing.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

from windvane.core.task_api.masking import MASK, masker

#: Longest JSON text one rendered field keeps; longer ones are cut, saying how long they were.
MAX_FIELD_CHARS = 4096


def rendered_fields_json(obj: object, field_names: Sequence[str]) -> str | None:
    """The JSON object ``{field: masked value}`` of ``obj``'s rendered ``field_names``; None when
    there are none or every one is empty (None, "", an empty list or dict: a ``PythonOperator``
    without arguments stores nothing, so its finish costs no statement more)."""
    values = {name: getattr(obj, name, None) for name in field_names}
    if all(_empty(v) for v in values.values()):
        return None
    found = {
        name: MASK if _sensitive(name) and not _empty(value) else _bounded(_masked(value))
        for name, value in values.items()
    }
    return json.dumps(found, ensure_ascii=False)


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str | list | tuple | dict | set | frozenset) and not value)


def _sensitive(name: str) -> bool:
    return masker().is_sensitive_name(name)


def _masked(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # NaN and infinities are not JSON
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return masker().redact(value)
    if isinstance(value, Mapping):
        return {
            str(k): MASK if _sensitive(str(k)) and not _empty(v) else _masked(v) for k, v in value.items()
        }
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=repr) if isinstance(value, set | frozenset) else value
        return [_masked(item) for item in items]
    return masker().redact(str(value))


def _bounded(value: Any) -> Any:
    text = json.dumps(value, ensure_ascii=False)
    if len(text) <= MAX_FIELD_CHARS:
        return value
    flat = value if isinstance(value, str) else text
    return f"{flat[:MAX_FIELD_CHARS]}... (cut: {len(flat):,} characters)"
