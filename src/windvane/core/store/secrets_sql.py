"""Connection and Variable rows in SQL, on any DBAPI connection (a worker's RawDb or the CLI's engine).

Secret columns go through a :class:`~windvane.core.store.fernet.FernetCodec`: a connection's
``password`` and ``extra``, a variable's ``val``. Ids and keys are matched exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

from windvane.core.model.connection import Connection
from windvane.core.store.fernet import FernetCodec
from windvane.core.store.raw_sql import Row, Sql, Tx
from windvane.errors import NotFoundError, StoreError

_CONN_COLUMNS = "conn_id, conn_type, description, host, schema, login, password, port, extra, is_encrypted"
_GET_CONN = Sql(f"SELECT {_CONN_COLUMNS} FROM connection WHERE conn_id = :conn_id")
_LIST_CONNS = Sql(f"SELECT {_CONN_COLUMNS} FROM connection ORDER BY conn_id")
_INSERT_CONN = Sql(
    f"INSERT INTO connection ({_CONN_COLUMNS}) VALUES (:conn_id, :conn_type, :description, :host, "
    ":schema, :login, :password, :port, :extra, :is_encrypted)"
)
_UPDATE_CONN = Sql(
    "UPDATE connection SET conn_type = :conn_type, description = :description, host = :host, "
    "schema = :schema, login = :login, password = :password, port = :port, extra = :extra, "
    "is_encrypted = :is_encrypted WHERE conn_id = :conn_id"
)
_DELETE_CONN = Sql("DELETE FROM connection WHERE conn_id = :conn_id")
_ROTATE_CONN = Sql(
    "UPDATE connection SET password = :password, extra = :extra, is_encrypted = :is_encrypted "
    "WHERE conn_id = :conn_id"
)

_VAR_COLUMNS = '"key", val, description, is_encrypted, is_sensitive'
_GET_VAR = Sql(f'SELECT {_VAR_COLUMNS} FROM variable WHERE "key" = :key')
_LIST_VARS = Sql(f'SELECT {_VAR_COLUMNS} FROM variable ORDER BY "key"')
_INSERT_VAR = Sql(
    f"INSERT INTO variable ({_VAR_COLUMNS}) VALUES (:key, :val, :description, :is_encrypted, :is_sensitive)"
)
_UPDATE_VAR = Sql(
    "UPDATE variable SET val = :val, description = :description, is_encrypted = :is_encrypted, "
    'is_sensitive = :is_sensitive WHERE "key" = :key'
)
_DELETE_VAR = Sql('DELETE FROM variable WHERE "key" = :key')
_ROTATE_VAR = Sql('UPDATE variable SET val = :val, is_encrypted = :is_encrypted WHERE "key" = :key')


@dataclass(frozen=True)
class StoredVariable:
    """One variable row, decrypted."""

    key: str
    value: str | None
    description: str | None
    is_encrypted: bool
    is_sensitive: bool
    #: Why ``value`` is None although the row has one (listed with ``strict=False``).
    error: str | None = None


def get_connection(tx: Tx, codec: FernetCodec, conn_id: str) -> Connection | None:
    row = tx.first(_GET_CONN, {"conn_id": conn_id})
    return None if row is None else _connection(row, codec)


def list_connections(tx: Tx, codec: FernetCodec, *, strict: bool = True) -> list[Connection]:
    """Every connection; with ``strict=False`` a row no key decrypts comes without password/extra."""
    return [_connection(row, codec, strict=strict) for row in tx.rows(_LIST_CONNS)]


def put_connection(tx: Tx, codec: FernetCodec, conn: Connection, *, replace: bool = False) -> None:
    """Store ``conn``; an existing id is an error unless ``replace``."""
    what = f"connection {conn.conn_id!r}"
    password, encrypted = codec.encrypt(conn.password, f"the password of {what}")
    extra, _ = codec.encrypt(conn.extra, f"the extra of {what}") if conn.extra else (None, encrypted)
    params = {
        "conn_id": conn.conn_id,
        "conn_type": conn.conn_type,
        "description": conn.description,
        "host": conn.host,
        "schema": conn.schema,
        "login": conn.login,
        "password": password,
        "port": conn.port,
        "extra": extra,
        "is_encrypted": codec.enabled,
    }
    if tx.first(_GET_CONN, {"conn_id": conn.conn_id}) is not None:
        if not replace:
            raise StoreError(f"{what} already exists (delete it first, or import with --overwrite)")
        tx.execute(_UPDATE_CONN, params)
    else:
        tx.execute(_INSERT_CONN, params)


def delete_connection(tx: Tx, conn_id: str) -> None:
    if tx.execute(_DELETE_CONN, {"conn_id": conn_id}) == 0:
        raise NotFoundError(f"connection {conn_id!r} does not exist")


def get_variable(tx: Tx, codec: FernetCodec, key: str) -> StoredVariable | None:
    row = tx.first(_GET_VAR, {"key": key})
    return None if row is None else _variable(row, codec)


def list_variables(tx: Tx, codec: FernetCodec, *, strict: bool = True) -> list[StoredVariable]:
    """Every variable; with ``strict=False`` a row no key decrypts has ``value`` None and ``error``."""
    return [_variable(row, codec, strict=strict) for row in tx.rows(_LIST_VARS)]


def set_variable(
    tx: Tx, codec: FernetCodec, key: str, value: str, *, description: str | None, sensitive: bool
) -> None:
    """Create or replace the variable ``key``."""
    val, encrypted = codec.encrypt(value, f"variable {key!r}")
    params = {
        "key": key,
        "val": val,
        "description": description,
        "is_encrypted": encrypted,
        "is_sensitive": sensitive,
    }
    if tx.execute(_UPDATE_VAR, params) == 0:
        tx.execute(_INSERT_VAR, params)


def delete_variable(tx: Tx, key: str) -> bool:
    return tx.execute(_DELETE_VAR, {"key": key}) > 0


def rotate_all(tx: Tx, codec: FernetCodec) -> tuple[int, int]:
    """Re-encrypt every connection and variable with the first key; ``(connections, variables)``."""
    conns = tx.rows(_LIST_CONNS)
    for row in conns:
        what = f"connection {row[0]!r}"
        tx.execute(
            _ROTATE_CONN,
            {
                "conn_id": row[0],
                "password": codec.rotate(row[6], bool(row[9]), f"the password of {what}"),
                "extra": codec.rotate(row[8], bool(row[9]), f"the extra of {what}"),
                "is_encrypted": True,
            },
        )
    variables = tx.rows(_LIST_VARS)
    for row in variables:
        tx.execute(
            _ROTATE_VAR,
            {
                "key": row[0],
                "val": codec.rotate(row[1], bool(row[3]), f"variable {row[0]!r}"),
                "is_encrypted": True,
            },
        )
    return len(conns), len(variables)


def _connection(row: Row, codec: FernetCodec, *, strict: bool = True) -> Connection:
    conn_id, conn_type, description, host, schema, login, password, port, extra, encrypted = row
    what = f"connection {conn_id!r}"
    if not strict:
        try:
            codec.decrypt(password, bool(encrypted), what)
            codec.decrypt(extra, bool(encrypted), what)
        except StoreError:
            password = extra = None
    return Connection(
        conn_id=conn_id,
        conn_type=conn_type,
        description=description,
        host=host,
        schema=schema,
        login=login,
        password=codec.decrypt(password, bool(encrypted), f"the password of {what}"),
        port=port,
        extra=codec.decrypt(extra, bool(encrypted), f"the extra of {what}"),
    )


def _variable(row: Row, codec: FernetCodec, *, strict: bool = True) -> StoredVariable:
    key, val, description, encrypted, sensitive = row
    try:
        value = codec.decrypt(val, bool(encrypted), f"variable {key!r}")
        error = None
    except StoreError as exc:
        if strict:
            raise
        value, error = None, str(exc)
    return StoredVariable(
        key=key,
        value=value,
        error=error,
        description=description,
        is_encrypted=bool(encrypted),
        is_sensitive=bool(sensitive),
    )
