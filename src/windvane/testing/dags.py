"""DAGs in tests: write a DAG file, or put a DAG object in the database as the processor would."""

from __future__ import annotations

from pathlib import Path

import pendulum
from sqlalchemy import Engine

from windvane.core.authoring.dag import DAG
from windvane.core.authoring.serialize import serialize_dag
from windvane.core.model.serialized_dag import SerializedDag
from windvane.core.store import dags
from windvane.core.store.dags import upsert_dag
from windvane.core.store.engine import begin_write


def write_dag_file(folder: Path, source: str, name: str = "dag_file.py") -> str:
    """Write ``source`` to ``folder/name``; the file's path, as a DAG's ``fileloc``."""
    path = folder / name
    path.write_text(source)
    return str(path)


def register_dag(engine: Engine, dag: DAG, *, now: pendulum.DateTime, paused: bool = False) -> SerializedDag:
    """Store ``dag`` serialized, parsed at ``now``, with its next run due as the processor sets it.

    The scheduler then sees it as if the DAG processor had parsed its file;
    task code runs only if an executor imports ``dag.fileloc``.
    """
    ser = serialize_dag(dag)
    with begin_write(engine) as conn:
        upsert_dag(
            conn,
            dag_id=ser.dag_id,
            fileloc=ser.fileloc,
            dag_hash=ser.dag_hash,
            serialized=ser.to_json(),
            last_parsed_at=now,
            timetable_summary=dag.timetable.summary,
            paused_on_create=paused,
        )
        dags.set_next_dagrun(conn, ser.dag_id, *ser.next_run(None, now))
    return ser
