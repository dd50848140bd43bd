from __future__ import annotations

from datetime import timedelta, timezone

import pytest
from sqlalchemy import Engine

from tests.store.helpers import T0
from windvane.core.store.import_errors import (
    clear_import_error,
    list_import_errors,
    replace_import_error,
)
from windvane.core.store.rows import ImportErrorRow
from windvane.errors import StoreError


def test_replace_list_clear(engine: Engine) -> None:
    later = T0 + timedelta(minutes=5)
    with engine.begin() as conn:
        replace_import_error(conn, "/dags/b.py", "Traceback: old", T0)
        replace_import_error(conn, "/dags/a.py", "Traceback: a", T0)
        replace_import_error(
            conn, "/dags/b.py", "Traceback: new", later.astimezone(timezone(timedelta(hours=2)))
        )
        assert list_import_errors(conn) == [
            ImportErrorRow("/dags/a.py", T0, "Traceback: a"),
            ImportErrorRow("/dags/b.py", later, "Traceback: new"),
        ]
        assert list_import_errors(conn)[1].timestamp.utcoffset() == timedelta(0)
        assert clear_import_error(conn, "/dags/a.py") is True
        assert clear_import_error(conn, "/dags/a.py") is False
        assert [e.filename for e in list_import_errors(conn)] == ["/dags/b.py"]


def test_naive_datetimes_are_refused(sqlite_engine: Engine) -> None:
    with sqlite_engine.begin() as conn, pytest.raises(StoreError, match="timezone-aware"):
        replace_import_error(conn, "/dags/a.py", "x", T0.replace(tzinfo=None))
