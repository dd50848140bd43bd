"""Putting DAGs built in a test into the metadata DB, as the DAG processor would."""

from __future__ import annotations

import pendulum
from sqlalchemy import Engine, select

from windvane.core.authoring.dag import DAG
from windvane.core.authoring.serialize import serialize_dag
from windvane.core.model.serialized_dag import SerializedDag
from windvane.core.store.dags import set_next_dagrun, upsert_dag
from windvane.core.store.engine import begin_read, begin_write
from windvane.core.store.tables import dag_run, task_instance


def register(engine: Engine, dag: DAG, *, now: pendulum.DateTime, paused: bool = False) -> SerializedDag:
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
        set_next_dagrun(conn, ser.dag_id, *ser.next_run(None, now))
    return ser


def ti_states(engine: Engine, dag_id: str) -> dict[tuple[str, str], str]:
    with begin_read(engine) as conn:
        rows = conn.execute(
            select(task_instance.c.run_id, task_instance.c.task_id, task_instance.c.state).where(
                task_instance.c.dag_id == dag_id
            )
        )
        return {(r[0], r[1]): r[2] for r in rows}


def run_states(engine: Engine, dag_id: str) -> dict[str, str]:
    with begin_read(engine) as conn:
        rows = conn.execute(select(dag_run.c.run_id, dag_run.c.state).where(dag_run.c.dag_id == dag_id))
        return {r[0]: r[1] for r in rows}
