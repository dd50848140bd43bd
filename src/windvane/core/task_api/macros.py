"""The ``macros`` namespace templates see, after Airflow's ``airflow.macros``.

``{{ macros.ds_add(ds, 7) }}``, ``{{ macros.datetime.now() }}``,
``{{ macros.uuid.uuid4() }}``, ``{{ macros.random() }}``, ``{{ macros.json.dumps(x) }}``.

As in Airflow, ``macros.datetime`` and ``macros.timedelta`` are the classes and
``macros.random`` is the function ``random.random``. ``macros.time``,
``macros.uuid`` and ``macros.json`` hold the public functions of those modules
but are *not* the modules: a module's own imports are attributes the Jinja
sandbox does not block (``json.codecs.open``, ``uuid.os.system``).
"""

from __future__ import annotations

import json
import random
import time
import uuid
from datetime import datetime, timedelta
from types import SimpleNamespace

__all__ = ["ds_add", "ds_format", "macros_namespace"]

_DS_FORMAT = "%Y-%m-%d"


def ds_add(ds: str, days: int) -> str:
    """Add (or, if negative, subtract) ``days`` to a ``YYYY-MM-DD`` date string.

    >>> ds_add("2015-01-01", 5)
    '2015-01-06'
    >>> ds_add("2015-01-06", -5)
    '2015-01-01'
    """
    return (datetime.strptime(str(ds), _DS_FORMAT) + timedelta(days=days)).strftime(_DS_FORMAT)


def ds_format(ds: str, input_format: str, output_format: str) -> str:
    """Re-format a date string from ``input_format`` to ``output_format`` (strftime codes).

    >>> ds_format("2015-01-01", "%Y-%m-%d", "%m-%d-%y")
    '01-01-15'
    """
    return datetime.strptime(str(ds), input_format).strftime(output_format)


def _public(module: object, names: str) -> SimpleNamespace:
    return SimpleNamespace(**{name: getattr(module, name) for name in names.split()})


def macros_namespace() -> SimpleNamespace:
    """Return a fresh ``macros`` object (fresh so that no task can change another's)."""
    return SimpleNamespace(
        ds_add=ds_add,
        ds_format=ds_format,
        datetime=datetime,
        timedelta=timedelta,
        random=random.random,
        time=_public(
            time,
            "time time_ns monotonic perf_counter gmtime localtime mktime strftime strptime "
            "asctime ctime struct_time",
        ),
        uuid=_public(
            uuid,
            "UUID uuid1 uuid3 uuid4 uuid5 NAMESPACE_DNS NAMESPACE_URL NAMESPACE_OID NAMESPACE_X500",
        ),
        json=_public(json, "dumps loads JSONDecodeError"),
    )
