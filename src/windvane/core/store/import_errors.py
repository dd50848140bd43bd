"""Import errors: the latest failure to parse each DAG file, shown until the file parses."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, delete, select

from windvane.core.store._time import from_db, to_db
from windvane.core.store._upsert import upsert
from windvane.core.store.rows import ImportErrorRow
from windvane.core.store.tables import import_error


def replace_import_error(conn: Connection, filename: str, stacktrace: str, now: datetime) -> None:
    """Record ``stacktrace`` as the import error of ``filename``, replacing any earlier one."""
    values = {
        "filename": filename,
        "stacktrace": stacktrace,
        "timestamp": to_db(now, "import_error.timestamp"),
    }
    upsert(conn, import_error, values, key=["filename"], update=["stacktrace", "timestamp"])


def clear_import_error(conn: Connection, filename: str) -> bool:
    """Forget the import error of ``filename``; True if there was one."""
    return conn.execute(delete(import_error).where(import_error.c.filename == filename)).rowcount > 0


def list_import_errors(conn: Connection) -> list[ImportErrorRow]:
    """Every recorded import error, by file name."""
    rows = conn.execute(
        select(import_error.c.filename, import_error.c.timestamp, import_error.c.stacktrace).order_by(
            import_error.c.filename
        )
    )
    return [ImportErrorRow(filename=f, timestamp=from_db(t), stacktrace=s) for f, t, s in rows]
