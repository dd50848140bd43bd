"""The classic sensor deadlock (issue 14): 20 sensors waiting on a file in a pool of 2 slots, plus 5
normal tasks in the same pool. In reschedule mode the sensors give their slots back between pokes, so
the normal tasks run while the file is missing and everything completes once it appears; in poke mode
two sensors hold both slots and nothing else in the pool runs until the file appears."""

from __future__ import annotations

from pathlib import Path

from tests.sensors.harness import Runtime
from windvane.testing import wait_for

DAG_SOURCE = """
import os
from datetime import datetime, timezone
from windvane import DAG, PythonOperator
from windvane.sensors import BaseSensorOperator

FLAG, POKES = {flag!r}, {pokes!r}

class FileWait(BaseSensorOperator):
    def poke(self, context):
        with open(os.path.join(POKES, self.task_id), "a") as handle:
            handle.write("x")
        return os.path.exists(FLAG)

def work():
    return "done"

with DAG("pool_{mode}", schedule=None, start_date=datetime(2024, 1, 1, tzinfo=timezone.utc)) as dag:
    for i in range(20):
        FileWait(task_id=f"sensor_{{i:02d}}", mode="{mode}", poke_interval={interval}, timeout=120,
                 pool="tight", priority_weight={weight})
    for i in range(5):
        PythonOperator(task_id=f"work_{{i}}", python_callable=work, pool="tight")
"""


def _setup(runtime: Runtime, tmp_path: Path, mode: str) -> tuple[Path, Path, str]:
    flag, pokes = tmp_path / "flag", tmp_path / "pokes"
    pokes.mkdir()
    # In poke mode the sensors outrank the normal tasks so that they take the slots first; in
    # reschedule mode a rescheduled sensor waits behind tasks that were not (whatever their ids).
    weight = 1 if mode == "reschedule" else 10
    source = DAG_SOURCE.format(flag=str(flag), pokes=str(pokes), mode=mode, interval=0.2, weight=weight)
    runtime.add_file(source)
    runtime.pool("tight", 2)
    return flag, pokes, runtime.trigger(f"pool_{mode}")


def test_reschedule_sensors_do_not_deadlock_the_pool(runtime: Runtime, tmp_path: Path) -> None:
    flag, pokes, run_id = _setup(runtime, tmp_path, "reschedule")
    runtime.start()
    # The file is missing, yet the 5 normal tasks get the pool's slots between pokes.
    wait_for(
        lambda: all(
            runtime.ti("pool_reschedule", run_id, f"work_{i}")["state"] == "success" for i in range(5)
        ),
        timeout=60,
        what="the normal tasks to run while 20 sensors wait",
    )
    # And every sensor gets its turn to poke: none is starved by the others.
    wait_for(lambda: len(list(pokes.iterdir())) == 20, timeout=60, what="every sensor to poke")
    flag.write_text("")
    assert runtime.wait_run("pool_reschedule", run_id, timeout=90) == "success"
    sensors = [runtime.ti("pool_reschedule", run_id, f"sensor_{i:02d}") for i in range(20)]
    assert {s["state"] for s in sensors} == {"success"} and {s["try_number"] for s in sensors} == {1}


def test_poke_sensors_hold_the_pool_until_the_file_appears(runtime: Runtime, tmp_path: Path) -> None:
    flag, pokes, run_id = _setup(runtime, tmp_path, "poke")
    runtime.start()

    def two_sensors_poked_often() -> bool:
        counts = [len(p.read_text()) for p in pokes.iterdir()]
        return len(counts) == 2 and min(counts) >= 5

    wait_for(two_sensors_poked_often, timeout=60, what="two poke-mode sensors to hold the pool")
    # Both slots are held by sensors that poke on and on: no normal task has run.
    assert {runtime.ti("pool_poke", run_id, f"work_{i}")["state"] for i in range(5)} <= {"none", "scheduled"}
    assert len(list(pokes.iterdir())) == 2
    flag.write_text("")  # the only way out
    assert runtime.wait_run("pool_poke", run_id, timeout=90) == "success"
