"""A DAG run driven by a real scheduler (in this process) over the Celery executor, for fault tests."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pendulum
from sqlalchemy import Engine, select

from tests.celery_executor.workers import Broker
from windvane.celery.executor import CeleryExecutor
from windvane.core.authoring.serialize import serialize_dag
from windvane.core.scheduler.config import SchedulerConfig
from windvane.core.scheduler.loop import Scheduler
from windvane.core.store.dags import upsert_dag
from windvane.core.store.engine import begin_read, begin_write
from windvane.core.store.run_actions import trigger_dag
from windvane.core.store.tables import dag_run, task_instance
from windvane.core.worker.dag_loader import DagLoader

#: The zombie sweep's patience in these tests (workers heartbeat every 0.5 s).
HEARTBEAT_TIMEOUT = 5.0
WORKER_ENV = {"WINDVANE__EXECUTOR__WORKER_HEARTBEAT_SECONDS": "0.5"}


def trigger(engine: Engine, folder: Path, source: str, dag_id: str) -> None:
    """Write the DAG file, store its DAG and trigger one manual run."""
    path = folder / f"{dag_id}.py"
    path.write_text(textwrap.dedent(source))
    ser = serialize_dag(DagLoader().get_dag(str(path), dag_id))
    now = pendulum.now("UTC")
    with begin_write(engine) as conn:
        upsert_dag(
            conn, dag_id=dag_id, fileloc=str(path), dag_hash=ser.dag_hash, serialized=ser.to_json(),
            last_parsed_at=now,
        )  # fmt: skip
        trigger_dag(conn, ser, now=now, logical_date=now)


def run_state(engine: Engine) -> str | None:
    with begin_read(engine) as conn:
        return conn.execute(select(dag_run.c.state)).scalar_one_or_none()


def ti_states(engine: Engine) -> dict[str, tuple[str, int]]:
    with begin_read(engine) as conn:
        rows = conn.execute(
            select(task_instance.c.task_id, task_instance.c.state, task_instance.c.try_number)
        )
        return {r[0]: (r[1], r[2]) for r in rows}


def drive(
    engine: Engine,
    broker: Broker,
    *,
    timeout: float = 90.0,
    on_pass: Callable[[], None] | None = None,
    parallelism: int = 4,
    executors: list[CeleryExecutor] | None = None,
    **config_changes: object,
) -> str | None:
    """Run a scheduler over a CeleryExecutor until the run ends (or ``timeout``); the run's state.
    The executor is appended to ``executors`` (to look at it afterwards)."""
    url = engine.url.render_as_string(hide_password=False)
    executor = CeleryExecutor(
        parallelism, config=broker.config(**config_changes), db_url=url, reconcile_seconds=2.0
    )
    config = SchedulerConfig(
        parallelism=parallelism,
        poll_interval_seconds=0.2,
        idle_sleep_seconds=0.2,
        task_heartbeat_timeout_seconds=HEARTBEAT_TIMEOUT,
        zombie_check_interval_seconds=0.5,
    )
    scheduler = Scheduler(engine=engine, executor=executor, config=config)
    if executors is not None:
        executors.append(executor)

    def until(_: Scheduler) -> bool:
        if on_pass is not None:
            on_pass()
        return run_state(engine) in ("success", "failed")

    scheduler.run(until=until, timeout=timeout)
    return run_state(engine)
