"""Reads for the listing commands without SQLAlchemy: :func:`read_listing`.

``windvane dags list``, ``dags list-runs`` and ``dags list-import-errors`` read a few rows; importing
SQLAlchemy (and building an engine) cost more than everything else they do. So they run their
statements (:mod:`windvane.core.store.lists_sql`) on a :class:`~windvane.core.store.raw.RawDb`
(``sqlite3`` or psycopg, opened as the engine opens them) once a quick look finds the schema
current (:func:`~windvane.cli.schema_gate.raw_looks_current`). Whenever that path is not sure —
SQL echo is on (``[database] echo`` logs through SQLAlchemy), the URL is not one the raw driver
takes, a SQLite file does not exist yet, the schema looks old or cannot be read — the very same
statements run inside a SQLAlchemy transaction instead
(:func:`~windvane.core.store.sql_bridge.dbapi_tx`), after :func:`~windvane.cli.wiring.open_engine`
checked the schema: its errors name the database and what is wrong, as every other command's do.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from windvane.core.store.raw import RawDb, parse_url
from windvane.core.store.raw_sql import SQLITE, Tx
from windvane.errors import StoreError

if TYPE_CHECKING:
    from windvane.settings import Settings

T = TypeVar("T")


def read_listing(settings: Settings, body: Callable[[Tx], T]) -> T:
    """``body`` in one read transaction on the metadata database, the schema checked first."""
    db = quick_db(settings)
    if db is not None:
        from windvane.cli.schema_gate import raw_looks_current

        try:
            if raw_looks_current(db):
                return db.read(body)
        finally:
            db.close()
    return _through_sqlalchemy(settings, body)


def quick_db(settings: Settings) -> RawDb | None:
    """A (not yet opened) SQLAlchemy-free connection to the metadata database; None when the
    engine should be used instead."""
    if settings.database.echo:
        return None
    url = settings.database.sql_alchemy_conn
    try:
        target = parse_url(url)
    except StoreError:
        return None
    if target.dialect == SQLITE and (target.uri or not Path(target.database).is_file()):
        return None  # sqlite3 would create an empty file; the engine's path says what is wrong
    return RawDb(url)


def _through_sqlalchemy(settings: Settings, body: Callable[[Tx], T]) -> T:
    from windvane.cli.wiring import open_engine
    from windvane.core.store.engine import begin_read
    from windvane.core.store.sql_bridge import dbapi_tx

    with open_engine(settings) as engine, begin_read(engine) as conn:
        return body(dbapi_tx(conn))
