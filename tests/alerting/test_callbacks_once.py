"""DAG callbacks are called once per run with several runners (schedulers) on one database, and a
runner killed with SIGKILL mid-call loses no run: the one call it was making is made again.

Each runner is a process of its own (as each scheduler is); the callbacks append a line per call to
a file, which the test counts.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections import Counter
from multiprocessing.synchronize import Event
from pathlib import Path

import pendulum
from sqlalchemy import Engine

from tests.runtime.test_scheduler import drive, make_scheduler
from windvane.alerting.consumer_turn import take_turn
from windvane.alerting.dag_callbacks import CONSUMER, DagCallbackRunner
from windvane.core.model.clock import FakeClock
from windvane.core.model.workload import Workload
from windvane.core.store.engine import begin_write, create_db_engine
from windvane.core.store.run_actions import trigger_dag
from windvane.core.worker.dag_loader import DagLoader
from windvane.metrics import RecordingSink
from windvane.metrics.catalogue_alerting import CALLBACK_DURATION, CALLBACK_FAILURES
from windvane.testing import InstantExecutor, register_dag, run_states, wait_for, write_dag_file

NOW = pendulum.datetime(2024, 3, 1, tz="UTC")
RUNS = 20
HELD_RUN = "r07"
DAG_SOURCE = """
import os, threading, pendulum
from windvane import DAG, PythonOperator

FOLDER = {folder!r}

def mark(context):
    run = context["run_id"]
    with open(os.path.join(FOLDER, "started"), "a") as out:
        out.write(run + "\\n")
    if run == {held!r} and not os.path.exists(os.path.join(FOLDER, "held")):
        open(os.path.join(FOLDER, "held"), "w").close()
        threading.Event().wait()  # the first call for this run hangs until its runner is killed
    with open(os.path.join(FOLDER, "done"), "a") as out:
        out.write(run + "\\n")

with DAG("many", schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
         on_failure_callback=mark, on_success_callback=mark, max_active_runs=50):
    PythonOperator(task_id="work", python_callable=lambda: None)
"""


def finish_runs(engine: Engine, folder: Path, held: str = "none") -> list[str]:
    """``RUNS`` runs of DAG ``many``, the odd ones failed; their run ids."""
    path = write_dag_file(folder, DAG_SOURCE.format(folder=str(folder), held=held), "many.py")
    ser = register_dag(engine, DagLoader().get_dag(path, "many"), now=NOW)
    run_ids = [f"r{i:02d}" for i in range(RUNS)]
    with begin_write(engine) as conn:
        for run_id in run_ids:
            trigger_dag(conn, ser, now=NOW, run_id=run_id)

    def outcome(w: Workload) -> str:
        return "failed" if int(w.key.run_id[1:]) % 2 else "success"

    clock = FakeClock(NOW)
    scheduler = make_scheduler(engine, InstantExecutor(4, engine=engine, outcome=outcome, clock=clock), clock)
    drive(scheduler, lambda: len([s for s in run_states(engine, "many").values() if s != "running"]) == RUNS)
    scheduler.shutdown()
    return run_ids


def lines(folder: Path, name: str) -> Counter[str]:
    path = folder / name
    return Counter(path.read_text().split()) if path.exists() else Counter()


def run_runner(url: str, stop: Event) -> None:
    """A runner in a process of its own, passing until ``stop`` is set."""
    engine = create_db_engine(url)
    runner = DagCallbackRunner(engine, timeout=60)
    while not stop.is_set():
        runner.run_tick()
        stop.wait(0.02)
    engine.dispose()


def start_runners(engine: Engine, count: int) -> tuple[list[multiprocessing.process.BaseProcess], Event]:
    context = multiprocessing.get_context("spawn")
    stop = context.Event()
    url = engine.url.render_as_string(hide_password=False)
    processes = [context.Process(target=run_runner, args=(url, stop)) for _ in range(count)]
    for process in processes:
        process.start()
    return processes, stop


def end(processes: list[multiprocessing.process.BaseProcess]) -> None:
    for process in processes:
        process.join(30)
        if process.is_alive():
            process.kill()
            process.join(5)


def test_two_runners_call_each_runs_callback_exactly_once(engine: Engine, tmp_path: Path) -> None:
    DagCallbackRunner(engine).reader.register()  # as the first scheduler's start() does
    run_ids = finish_runs(engine, tmp_path)
    processes, stop = start_runners(engine, 2)
    try:
        wait_for(lambda: sum(lines(tmp_path, "done").values()) >= RUNS, timeout=60, what="every callback")
        stop.set()
    finally:
        stop.set()
        end(processes)
    assert DagCallbackRunner(engine).run_tick() == 0  # nothing was left behind
    assert lines(tmp_path, "done") == Counter(run_ids)  # each run's callback once, none twice
    assert lines(tmp_path, "started") == Counter(run_ids)


def test_a_runner_killed_mid_call_loses_no_run(engine: Engine, tmp_path: Path) -> None:
    DagCallbackRunner(engine).reader.register()
    run_ids = finish_runs(engine, tmp_path, held=HELD_RUN)
    [doomed], stop = start_runners(engine, 1)
    try:
        wait_for((tmp_path / "held").exists, timeout=60, what="the doomed runner to hang in a callback")
        os.kill(doomed.pid or 0, signal.SIGKILL)
        doomed.join(30)
    finally:
        stop.set()
        end([doomed])
    assert lines(tmp_path, "done")[HELD_RUN] == 0  # the kill interrupted that call

    sink = RecordingSink()
    survivor = DagCallbackRunner(engine, timeout=60, metrics=sink)  # the restarted scheduler's
    # The killed runner's callback child still holds the turn until the kernel kills it too
    # (PR_SET_PDEATHSIG): the survivor gets its turn on one of its next passes.
    wait_for(
        lambda: survivor.run_tick() >= 0 and sum(lines(tmp_path, "done").values()) >= RUNS,
        timeout=60,
        what="the survivor to call the remaining callbacks",
    )
    assert lines(tmp_path, "done") == Counter(run_ids)  # every run's callback completed once
    started = lines(tmp_path, "started")
    # Only the call in flight at the kill is made again; the runs before it are not repeated.
    assert started == Counter(run_ids) + Counter([HELD_RUN])
    assert survivor.run_tick() == 0
    kinds = {labels["kind"] for _, name, _, labels in sink.events if name == CALLBACK_DURATION.name}
    assert kinds == {"dag_success", "dag_failure"}
    assert len(sink.values(CALLBACK_DURATION)) == survivor.calls and sink.total(CALLBACK_FAILURES) == 0


def test_a_turn_is_held_by_one_taker_at_a_time(engine: Engine) -> None:
    DagCallbackRunner(engine).reader.register()
    with take_turn(engine, CONSUMER) as first:
        assert first is not None
        with take_turn(engine, CONSUMER) as second:
            assert second is None  # another runner gets no turn, and does not wait
        first.advance(first.cursor)
    with take_turn(engine, CONSUMER) as again:
        assert again is not None  # free once the first turn ended
    with take_turn(engine, "nobody-registered-this") as none:
        assert none is None
