"""Plain SQL on any DBAPI connection: statements with ``:name`` parameters, values as SQLAlchemy stores them.

The statements workers run every try (:mod:`windvane.core.store.try_lifecycle`,
:mod:`windvane.core.store.xcom_sql`) are :class:`Sql` objects; a :class:`Tx`
runs them on a connection already inside a transaction, be it one of
:class:`~windvane.core.store.raw.RawDb` or the one under a SQLAlchemy
``Connection``.

Datetimes are stored exactly as SQLAlchemy's ``DateTime(timezone=True)``
stores them, so either side reads what the other wrote: on SQLite the UTC
wall clock as text ``YYYY-MM-DD HH:MM:SS.ffffff``, on PostgreSQL a
``timestamptz``. Naive datetimes are refused; :func:`read_time` reads them
back as aware UTC.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from datetime import datetime
from typing import Any, ClassVar

from windvane.core.store._time import from_db, to_db

SQLITE = "sqlite"
POSTGRESQL = "postgresql"
_PARAM = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")
_ANY_IDS = "= ANY(CAST(:ids AS BIGINT[]))"

Row = tuple[Any, ...]


class Sql:
    """One statement with ``:name`` parameters, in the text each driver wants
    (psycopg's ``%(name)s`` is made once, here). ``postgresql`` is its text for
    PostgreSQL when that differs (see :func:`match_ids`)."""

    __slots__ = ("pg_text", "pyformat", "text")

    def __init__(self, text: str, postgresql: str | None = None) -> None:
        self.text = text
        self.pg_text = text if postgresql is None else postgresql
        self.pyformat = _PARAM.sub(r"%(\1)s", self.pg_text.replace("%", "%%"))

    def for_dialect(self, dialect: str) -> str:
        """The text for ``dialect``'s DBAPI driver."""
        return self.pyformat if dialect == POSTGRESQL else self.text

    def named(self, dialect: str) -> str:
        """The text for ``dialect`` with ``:name`` parameters (as SQLAlchemy's ``text()`` takes it)."""
        return self.pg_text if dialect == POSTGRESQL else self.text


class Tx:
    """Statements on a DBAPI ``connection`` of ``dialect`` inside a transaction someone else
    began and will end."""

    __slots__ = ("_conn", "dialect")

    #: Statements run by every :class:`Tx` of this process so far (an ``executemany`` counts
    #: each parameter set): benchmarks read the difference across a piece of work.
    executed: ClassVar[int] = 0

    def __init__(self, connection: Any, dialect: str) -> None:
        self._conn = connection
        self.dialect = dialect

    def execute(self, sql: Sql, params: Mapping[str, Any] | None = None) -> int:
        """Run ``sql``; how many rows it changed."""
        Tx.executed += 1
        cursor = self._conn.execute(sql.for_dialect(self.dialect), bind(params, self.dialect))
        count: int = cursor.rowcount
        cursor.close()
        return count

    def execute_many(self, sql: Sql, rows: Sequence[Mapping[str, Any]]) -> None:
        Tx.executed += len(rows)
        cursor = self._conn.cursor()
        try:
            cursor.executemany(sql.for_dialect(self.dialect), [bind(row, self.dialect) for row in rows])
        finally:
            cursor.close()

    def rows_many(self, sql: Sql, rows: Sequence[Mapping[str, Any]]) -> list[Row]:
        """Run ``sql`` (a statement with ``RETURNING``) once per parameter set; every row returned.

        One pipelined round trip on PostgreSQL; on SQLite (no round trips) one execution per set.
        """
        if not rows:
            return []
        found: list[Row] = []
        if self.dialect == POSTGRESQL:
            Tx.executed += len(rows)
            cursor = self._conn.cursor()
            try:
                cursor.executemany(sql.pyformat, [bind(row, self.dialect) for row in rows], returning=True)
                while True:
                    found.extend(tuple(row) for row in cursor.fetchall())
                    if not cursor.nextset():
                        break
            finally:
                cursor.close()
            return found
        for row in rows:
            found.extend(self.rows(sql, row))
        return found

    @contextmanager
    def pipeline(self) -> Iterator[None]:
        """Statements run inside are sent together (PostgreSQL pipeline mode: one round trip); their
        errors surface when it ends. Only for statements whose results nobody reads."""
        with self._conn.pipeline() if self.dialect == POSTGRESQL else nullcontext():
            yield

    def rows(self, sql: Sql, params: Mapping[str, Any] | None = None) -> list[Row]:
        """Every row ``sql`` returns (a query, or a statement with ``RETURNING``)."""
        Tx.executed += 1
        cursor = self._conn.execute(sql.for_dialect(self.dialect), bind(params, self.dialect))
        rows = [tuple(row) for row in cursor.fetchall()]
        cursor.close()
        return rows

    def rows_together(self, statements: Sequence[tuple[Sql, Mapping[str, Any] | None]]) -> list[list[Row]]:
        """The rows of each statement, all sent before any result is read (PostgreSQL: one round trip
        in pipeline mode; a read inside :meth:`pipeline` would flush it first)."""
        Tx.executed += len(statements)
        with self.pipeline():
            cursors = [
                self._conn.execute(sql.for_dialect(self.dialect), bind(params, self.dialect))
                for sql, params in statements
            ]
        out = []
        for cursor in cursors:
            out.append([tuple(row) for row in cursor.fetchall()])
            cursor.close()
        return out

    def first(self, sql: Sql, params: Mapping[str, Any] | None = None) -> Row | None:
        """The first row ``sql`` returns, or None."""
        rows = self.rows(sql, params)
        return rows[0] if rows else None


def match_ids(template: str, count: int, *, postgresql: str | None = None) -> Sql:
    """``template`` (or ``postgresql`` there) with ``{ids}`` made a test against ``count`` ids bound
    by :func:`ids_params`: ``IN (:ids_0, ...)`` on SQLite, ``= ANY(:ids)`` on PostgreSQL (one array
    parameter: the same text, prepared once, whatever the count, and far cheaper to plan than
    hundreds of parameters); ``= :ids_0`` for one id (a prepared statement PostgreSQL need not plan
    again each time, as it does for an array of unknown length)."""
    pg_template = template if postgresql is None else postgresql
    if count == 1:
        return Sql(template.format(ids="= :ids_0"), pg_template.format(ids="= :ids_0"))
    return Sql(template.format(ids="IN " + in_list("ids", count)), pg_template.format(ids=_ANY_IDS))


def ids_params(ids: Sequence[int], dialect: str) -> dict[str, Any]:
    """The parameters of a :func:`match_ids` statement."""
    if len(ids) == 1:
        return {"ids_0": ids[0]}
    return {"ids": list(ids)} if dialect == POSTGRESQL else list_params("ids", ids)


def in_list(name: str, count: int) -> str:
    """``(:name_0, :name_1, ...)``: the ``IN`` list of ``count`` parameters (see :func:`list_params`)."""
    return "(" + ", ".join(f":{name}_{i}" for i in range(count)) + ")"


def list_params(name: str, values: Sequence[Any]) -> dict[str, Any]:
    """The parameters of :func:`in_list` ``(name, len(values))``."""
    return {f"{name}_{i}": value for i, value in enumerate(values)}


def bind(params: Mapping[str, Any] | None, dialect: str) -> dict[str, Any]:
    """``params`` with every datetime as :func:`bind_time` makes it."""
    bound = dict(params or {})
    for name, value in bound.items():
        if isinstance(value, datetime):
            bound[name] = bind_time(value, dialect, name)
    return bound


def bind_time(value: datetime, dialect: str, what: str) -> datetime | str:
    """``value`` as SQLAlchemy's ``DateTime(timezone=True)`` would store it (``what`` names it
    when it is naive)."""
    utc = to_db(value, what)
    if dialect != SQLITE:
        return utc
    return (
        f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d} "
        f"{utc.hour:02d}:{utc.minute:02d}:{utc.second:02d}.{utc.microsecond:06d}"
    )


def read_time(value: Any) -> datetime | None:
    """A stored datetime (SQLite: text) as aware UTC."""
    if value is None:
        return None
    return from_db(value if isinstance(value, datetime) else datetime.fromisoformat(str(value)))
