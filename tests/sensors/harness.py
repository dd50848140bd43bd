"""A real runtime for sensor tests: DAG files registered as the processor would, a Scheduler with a
LocalExecutor looping in a thread (real clock), and helpers to trigger runs and read states."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pendulum
from sqlalchemy import Engine, text

from windvane.core.executors.local import LocalExecutor
from windvane.core.model.serialized_dag import SerializedDag
from windvane.core.scheduler.config import SchedulerConfig
from windvane.core.scheduler.loop import Scheduler
from windvane.core.scheduler.observer import SchedulerObserver
from windvane.core.store import pools
from windvane.core.store.engine import begin_write
from windvane.core.store.run_actions import trigger_dag
from windvane.core.worker.dag_loader import DagLoader
from windvane.testing import register_dag, wait_for, write_dag_file


class Runtime:
    """Register DAG files, trigger runs, run a scheduler + LocalExecutor until :meth:`stop`."""

    def __init__(self, engine: Engine, folder: Path, *, parallelism: int = 4) -> None:
        self.engine = engine
        self.folder = folder
        self.parallelism = parallelism
        self.dags: dict[str, SerializedDag] = {}
        self.scheduler: Scheduler | None = None
        self._thread: threading.Thread | None = None
        self.error: BaseException | None = None

    def add_file(self, source: str, name: str = "dags.py") -> dict[str, SerializedDag]:
        path = write_dag_file(self.folder, source, name)
        now = pendulum.now("UTC")
        found = {
            dag_id: register_dag(self.engine, dag, now=now)
            for dag_id, dag in DagLoader().dags_in(path).items()
        }
        self.dags.update(found)
        return found

    def pool(self, name: str, slots: int) -> None:
        with begin_write(self.engine) as conn:
            pools.set_pool(conn, name, slots)

    def trigger(self, dag_id: str, **kwargs: Any) -> str:
        with begin_write(self.engine) as conn:
            _, run_id = trigger_dag(conn, self.dags[dag_id], now=pendulum.now("UTC"), **kwargs)
        return run_id

    def start(self, observer: SchedulerObserver | None = None) -> Scheduler:
        url = self.engine.url.render_as_string(hide_password=False)
        executor = LocalExecutor(
            self.parallelism, db_url=url, log_folder=str(self.folder / "logs"), kill_grace_seconds=1.0
        )
        config = SchedulerConfig(
            parallelism=self.parallelism, poll_interval_seconds=0.1, idle_sleep_seconds=0.1
        )
        self.scheduler = Scheduler(engine=self.engine, executor=executor, config=config, observer=observer)

        def loop() -> None:
            try:
                assert self.scheduler is not None
                self.scheduler.run(timeout=120)
            except BaseException as exc:  # surfaced by wait()
                self.error = exc

        self._thread = threading.Thread(target=loop, daemon=True)
        self._thread.start()
        return self.scheduler

    def stop(self) -> None:
        if self.scheduler is not None and self._thread is not None:
            self.scheduler.stop()
            self._thread.join(timeout=30)

    def run_state(self, dag_id: str, run_id: str) -> str | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                text("SELECT state FROM dag_run WHERE dag_id = :d AND run_id = :r"),
                {"d": dag_id, "r": run_id},
            ).first()
        return None if row is None else str(row[0])

    def ti(self, dag_id: str, run_id: str, task_id: str) -> dict[str, Any]:
        with self.engine.connect() as conn:
            row = (
                conn.execute(
                    text(
                        "SELECT id, state, try_number, max_tries, error FROM task_instance "
                        "WHERE dag_id = :d AND run_id = :r AND task_id = :t"
                    ),
                    {"d": dag_id, "r": run_id, "t": task_id},
                )
                .mappings()
                .first()
            )
        assert row is not None, f"no task instance {dag_id}.{task_id} in {run_id}"
        return dict(row)

    def wait_run(self, dag_id: str, run_id: str, *, timeout: float = 60.0) -> str:
        """Wait for the run to finish; its state."""

        def done() -> bool:
            if self.error is not None:
                raise self.error
            return self.run_state(dag_id, run_id) in ("success", "failed")

        wait_for(done, timeout=timeout, what=f"run {run_id} of {dag_id} to finish")
        state = self.run_state(dag_id, run_id)
        assert state is not None
        return state

    def reschedules(self, ti_id: int) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                text("SELECT try_number, start_date, reschedule_date FROM task_reschedule WHERE ti_id = :i"),
                {"i": ti_id},
            ).mappings()
            return [dict(r) for r in rows]
