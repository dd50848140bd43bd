"""Reschedule-mode sensors under a real scheduler and LocalExecutor: up_for_reschedule frees the slot,
the try number stays, the timeout counts from the first poke, and 20 sensors cannot deadlock a pool."""

from __future__ import annotations

from pathlib import Path

from tests.sensors.harness import Runtime
from windvane.testing import wait_for

SENSOR_DAG = """
import os
from datetime import datetime, timezone
from windvane import DAG
from windvane.sensors import BaseSensorOperator, PokeReturnValue

FLAG = {flag!r}

class FlagSensor(BaseSensorOperator):
    def poke(self, context):
        return PokeReturnValue(os.path.exists(FLAG), xcom_value="seen")

with DAG("wait", schedule=None, start_date=datetime(2024, 1, 1, tzinfo=timezone.utc)) as dag:
    FlagSensor(task_id="sense", mode="reschedule", poke_interval=0.2, timeout=60)

with DAG("expire", schedule=None, start_date=datetime(2024, 1, 1, tzinfo=timezone.utc)) as dag2:
    FlagSensor(task_id="sense", mode="reschedule", poke_interval=0.2, timeout=1.0, retries=2)
    FlagSensor(task_id="soft", mode="reschedule", poke_interval=0.2, timeout=1.0, soft_fail=True)
"""


def test_reschedule_keeps_the_try_number_and_succeeds_once_the_file_appears(
    runtime: Runtime, tmp_path: Path
) -> None:
    flag = tmp_path / "flag"
    runtime.add_file(SENSOR_DAG.format(flag=str(flag)))
    run_id = runtime.trigger("wait")
    runtime.start()
    wait_for(
        lambda: len(runtime.reschedules(runtime.ti("wait", run_id, "sense")["id"])) >= 3,
        timeout=60,
        what="three reschedules",
    )
    ti = runtime.ti("wait", run_id, "sense")
    assert ti["state"] in ("up_for_reschedule", "scheduled", "queued", "running")
    flag.write_text("")
    assert runtime.wait_run("wait", run_id) == "success"
    ti = runtime.ti("wait", run_id, "sense")
    assert ti["try_number"] == 1  # every poke ran as try 1
    rows = runtime.reschedules(ti["id"])
    assert len(rows) >= 3 and {r["try_number"] for r in rows} == {1}


def test_timeout_counts_from_the_first_poke_and_fails_without_retry(runtime: Runtime, tmp_path: Path) -> None:
    runtime.add_file(SENSOR_DAG.format(flag=str(tmp_path / "never")))
    run_id = runtime.trigger("expire")
    runtime.start()
    assert runtime.wait_run("expire", run_id) == "failed"
    sense = runtime.ti("expire", run_id, "sense")
    assert sense["state"] == "failed" and sense["try_number"] == 1  # retries=2 unused: no retry
    assert "SensorTimeout" in sense["error"] and "timed out" in sense["error"]
    assert len(runtime.reschedules(sense["id"])) >= 2
    assert runtime.ti("expire", run_id, "soft")["state"] == "skipped"
