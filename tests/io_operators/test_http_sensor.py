"""HttpSensor against a scripted HTTP server on loopback (needs BaseSensorOperator, branch sensors14)."""

from __future__ import annotations

import json

import pendulum
import pytest

from tests.io_operators.conftest import DictResolver
from tests.io_operators.http_server import ScriptedHttpServer
from windvane import DAG
from windvane.errors import DagDefinitionError, TaskCommandError, TaskSkipped
from windvane.testing import run_task

sensors = pytest.importorskip("windvane.core.authoring.sensors.base")

from windvane.core.authoring.operators.http_sensor import HttpSensor  # noqa: E402

START = pendulum.datetime(2024, 1, 1, tz="UTC")


@pytest.fixture
def api(connections: DictResolver, http_server: ScriptedHttpServer) -> ScriptedHttpServer:
    connections.add("api", json.dumps({"conn_type": "http", "host": "127.0.0.1", "port": http_server.port}))
    return http_server


def wait(**kwargs: object) -> object:
    kwargs.setdefault("poke_interval", 0)
    kwargs.setdefault("timeout", 30)
    with DAG("sense", schedule=None, start_date=START):
        sensor = HttpSensor(task_id="ready", http_conn_id="api", **kwargs)  # type: ignore[arg-type]
    return run_task(sensor).result


def test_404_means_not_yet_until_the_endpoint_answers(api: ScriptedHttpServer) -> None:
    api.script("/ready", (404, "no"), (404, "no"), (200, "yes"))
    wait(endpoint="ready", request_params={"job": "7"})
    assert [r.query for r in api.requests] == ["job=7"] * 3


def test_response_check_decides_and_may_push_an_xcom(api: ScriptedHttpServer) -> None:
    api.script("/job", (200, '{"state": "running"}'), (200, '{"state": "done", "rows": 12}'))

    def finished(response: object) -> object:
        body = response.json()  # type: ignore[attr-defined]
        return sensors.PokeReturnValue(body["state"] == "done", body.get("rows"))

    assert wait(endpoint="job", response_check=finished) == 12
    assert len(api.requests) == 2


def test_other_errors_fail_the_sensor_or_skip_it_with_soft_fail(api: ScriptedHttpServer) -> None:
    api.script("/broken", (500, "boom"))
    with pytest.raises(TaskCommandError, match="answered 500"):
        wait(endpoint="broken")
    with pytest.raises(TaskSkipped):
        wait(endpoint="broken", soft_fail=True)
    api.script("/teapot", (418, "tea"), (200, "ok"))
    wait(endpoint="teapot", response_error_codes_allowlist=["404", "418"])


@pytest.mark.parametrize(
    ("codes", "message"), [([404], "a string or a list of strings"), (["40"], "3-digit")]
)
def test_bad_allowlist_fails_at_definition(codes: list[object], message: str) -> None:
    with DAG("bad", schedule=None, start_date=START), pytest.raises(DagDefinitionError, match=message):
        HttpSensor(task_id="t", endpoint="x", response_error_codes_allowlist=codes)  # type: ignore[arg-type]
