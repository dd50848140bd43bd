"""``connections test``: open a connection of a known type and say whether it worked.

Through the hooks tasks use, so the test follows the same rules as a task would
(docs/operators-io.md): SQL types (postgres, mysql/mariadb, sqlite, or any with an
``sqlalchemy_scheme`` extra) through :class:`SqlHook` (``SELECT 1``); http/https through
:class:`HttpHook` (a GET of the base URL, no retries; below 400 is ok). The hooks read the
connection through the secrets backends the CLI installed.
"""

from __future__ import annotations

from windvane.core.authoring.hooks.http import HttpHook
from windvane.core.authoring.hooks.sql import DRIVERS, SqlHook
from windvane.core.model.connection import Connection


def check_connection(conn: Connection) -> tuple[bool, str]:
    """``(ok, what happened)``; never raises for a connection that fails."""
    kind = (conn.conn_type or "").lower().replace("-", "_")
    try:
        if kind in DRIVERS or "sqlalchemy_scheme" in conn.extra_dejson:
            return _check_sql(conn)
        if kind in ("http", "https"):
            return _check_http(conn)
    except Exception as exc:  # whatever the driver raises is the reason
        return False, f"{type(exc).__name__}: {_first_line(str(exc))}"
    known = ", ".join([*sorted(DRIVERS), "http"])
    return False, f"connection type {conn.conn_type!r} cannot be tested (known: {known})"


def _check_sql(conn: Connection) -> tuple[bool, str]:
    from sqlalchemy import text

    engine = SqlHook(conn.conn_id).get_sqlalchemy_engine()
    try:
        with engine.connect() as db:
            db.execute(text("SELECT 1"))
            version = db.dialect.server_version_info
    finally:
        engine.dispose()
    shown = ".".join(str(part) for part in version) if version else "?"
    return True, f"{engine.dialect.name} {shown} answered SELECT 1"


def _check_http(conn: Connection) -> tuple[bool, str]:
    hook = HttpHook("GET", conn.conn_id, retry_limit=0)
    response = hook.run(extra_options={"check_response": False})
    return response.status_code < 400, f"GET {hook.get_base_url()} answered {response.status_code}"


def _first_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[0] if lines else ""
