"""``connections test``: open a connection of a known type and say whether it worked.

postgres/postgresql, mysql/mariadb and sqlite through SQLAlchemy (``SELECT 1``), http/https
with an httpx GET of the host (2xx and 3xx are ok). Other types are reported as not testable.
"""

from __future__ import annotations

from urllib.parse import quote

from windvane.core.model.connection import Connection

#: Seconds a test waits for the server.
TIMEOUT_SECONDS = 10.0
_SQL_DRIVERS = {
    "postgres": "postgresql+psycopg",
    "postgresql": "postgresql+psycopg",
    "mysql": "mysql+pymysql",
    "mariadb": "mysql+pymysql",
}


def check_connection(conn: Connection) -> tuple[bool, str]:
    """``(ok, what happened)``; never raises for a connection that fails."""
    kind = (conn.conn_type or "").lower().replace("-", "_")
    try:
        if kind in _SQL_DRIVERS or kind == "sqlite":
            return _check_sql(conn, kind)
        if kind in ("http", "https"):
            return _check_http(conn, kind)
    except Exception as exc:  # whatever the driver raises is the reason
        return False, f"{type(exc).__name__}: {_first_line(str(exc))}"
    return (
        False,
        f"connection type {conn.conn_type!r} cannot be tested (known: postgres, mysql, sqlite, http)",
    )


def sqlalchemy_url(conn: Connection, kind: str) -> str:
    """The SQLAlchemy URL of a SQL connection (``schema`` is the database). SQLite: the file is
    ``host`` (Airflow's ``sqlite://%2Ftmp%2Fx.db``) or the URI's path (``sqlite:///tmp/x.db``)."""
    if kind == "sqlite":
        path = conn.host or ("/" + conn.schema if conn.schema else "")
        return f"sqlite:///{path}"
    auth = ""
    if conn.login:
        auth = quote(conn.login, safe="")
        if conn.password:
            auth += ":" + quote(conn.password, safe="")
        auth += "@"
    port = f":{conn.port}" if conn.port else ""
    return f"{_SQL_DRIVERS[kind]}://{auth}{conn.host or 'localhost'}{port}/{conn.schema or ''}"


def _check_sql(conn: Connection, kind: str) -> tuple[bool, str]:
    from sqlalchemy import create_engine, text

    args = {"connect_timeout": int(TIMEOUT_SECONDS)} if kind != "sqlite" else {}
    engine = create_engine(sqlalchemy_url(conn, kind), connect_args=args)
    try:
        with engine.connect() as db:
            db.execute(text("SELECT 1"))
            version = db.dialect.server_version_info
    finally:
        engine.dispose()
    shown = ".".join(str(part) for part in version) if version else "?"
    return True, f"{engine.dialect.name} {shown} answered SELECT 1"


def _check_http(conn: Connection, kind: str) -> tuple[bool, str]:
    import httpx

    host = conn.host or ""
    base = host if "://" in host else f"{kind}://{host}"
    port = f":{conn.port}" if conn.port and "://" not in host else ""
    path = f"/{conn.schema}" if conn.schema else "/"
    auth = (conn.login, conn.password or "") if conn.login else None
    response = httpx.get(base + port + path, auth=auth, timeout=TIMEOUT_SECONDS)
    ok = response.status_code < 400
    return ok, f"GET {response.request.url.copy_with(password=None)} answered {response.status_code}"


def _first_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[0] if lines else ""
