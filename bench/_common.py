"""Shared bench helpers: fresh databases, DAG registration, table printing."""

from __future__ import annotations

import os
import secrets
import statistics
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pendulum
from sqlalchemy import Engine

from windvane.core.authoring.dag import DAG
from windvane.core.authoring.serialize import serialize_dag
from windvane.core.model.serialized_dag import SerializedDag
from windvane.core.store.dags import set_next_dagrun, upsert_dag
from windvane.core.store.engine import begin_write, create_db_engine
from windvane.core.store.migrate import migrate

PG_SERVER = os.environ.get("WINDVANE_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@contextmanager
def fresh_db(kind: str) -> Iterator[tuple[str, Engine]]:
    """A migrated, empty database: ``sqlite`` (a temp file) or ``postgres`` (a temp database)."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite:///{Path(tmp) / 'bench.db'}"
            engine = create_db_engine(url)
            migrate(engine)
            try:
                yield url, engine
            finally:
                engine.dispose()
        return
    name = f"wv_bench_{secrets.token_hex(4)}"
    admin = create_db_engine(PG_SERVER, pool_size=1)
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = PG_SERVER.rsplit("/", 1)[0] + f"/{name}"
    engine = create_db_engine(url, pool_size=5)
    migrate(engine)
    try:
        yield url, engine
    finally:
        engine.dispose()
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql(f'DROP DATABASE "{name}" WITH (FORCE)')
        admin.dispose()


def register(engine: Engine, dag: DAG, fileloc: str | None = None) -> SerializedDag:
    return register_many(engine, [(dag, fileloc)])[0]


def register_many(engine: Engine, dags: Sequence[tuple[DAG, str | None]]) -> list[SerializedDag]:
    """Store ``dags`` (each with its file path, or None for its own) in one transaction."""
    out = []
    with begin_write(engine) as conn:
        for dag, fileloc in dags:
            ser = serialize_dag(dag)
            if fileloc is not None:
                ser = SerializedDag.from_dict({**ser.to_dict(), "fileloc": fileloc})
            upsert_dag(
                conn,
                dag_id=ser.dag_id,
                fileloc=ser.fileloc,
                dag_hash=ser.dag_hash,
                serialized=ser.to_json(),
                last_parsed_at=pendulum.now("UTC"),
            )
            set_next_dagrun(conn, ser.dag_id, None, None, None, None)
            out.append(ser)
    return out


def pct(values: Sequence[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def table(title: str, header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    cells = [[str(h) for h in header]] + [[_fmt(c) for c in r] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = [title, "  ".join(h.ljust(w) for h, w in zip(cells[0], widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    for row in cells[1:]:
        lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
    return "\n".join(lines)


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 100 else f"{value:,.0f}"
    return str(value)
