"""HttpOperator and HttpHook against a scripted HTTP server on loopback."""

from __future__ import annotations

import base64
import json

import pendulum
import pytest

from tests.io_operators.conftest import DictResolver
from tests.io_operators.http_server import ScriptedHttpServer
from windvane import DAG
from windvane.core.authoring.hooks.http import HttpHook
from windvane.core.authoring.operators.http import HttpOperator
from windvane.errors import DagDefinitionError, TaskCommandError
from windvane.testing import run_task

START = pendulum.datetime(2024, 1, 1, tz="UTC")
PASSWORD = "pa55-Word-Secret"


@pytest.fixture
def api(connections: DictResolver, http_server: ScriptedHttpServer) -> ScriptedHttpServer:
    connections.add(
        "api",
        json.dumps(
            {"conn_type": "http", "host": "127.0.0.1", "port": http_server.port, "login": "bot",
             "password": PASSWORD, "extra": {"X-Team": "data", "timeout": 5}}
        ),
    )  # fmt: skip
    return http_server


def call(**kwargs: object) -> object:
    kwargs.setdefault("http_retry_delay", 0.01)
    with DAG("http", schedule=None, start_date=START):
        op = HttpOperator(task_id="call", http_conn_id="api", **kwargs)  # type: ignore[arg-type]
    return run_task(op, logical_date=pendulum.datetime(2024, 5, 6, tz="UTC")).result


def test_post_sends_body_headers_and_basic_auth_and_pushes_the_text(api: ScriptedHttpServer) -> None:
    api.script("/v1/items", (201, '{"id": 7}'))
    result = call(
        endpoint="v1/items",
        data='{"name": "{{ ds }}"}',
        headers={"Content-Type": "application/json"},
    )
    assert result == '{"id": 7}'
    (seen,) = api.requests
    assert (seen.method, seen.path, json.loads(seen.body)) == ("POST", "/v1/items", {"name": "2024-05-06"})
    assert seen.headers["authorization"] == "Basic " + base64.b64encode(f"bot:{PASSWORD}".encode()).decode()
    assert seen.headers["x-team"] == "data"  # extra keys other than client settings are headers
    assert seen.headers["content-type"] == "application/json"


def test_get_sends_data_as_query_parameters(api: ScriptedHttpServer) -> None:
    api.script("/search", (200, "found"))
    assert call(endpoint="/search", method="get", data={"q": "wind", "n": "2"}) == "found"
    assert api.requests[0].method == "GET" and api.requests[0].query == "q=wind&n=2"


def test_5xx_answers_are_retried_until_a_200(api: ScriptedHttpServer) -> None:
    api.script("/flaky", (503, "busy"), (500, "oops"), (200, "done"))
    assert call(endpoint="flaky") == "done"
    assert len(api.requests) == 3


def test_a_5xx_past_the_retry_limit_fails_naming_connection_and_status(api: ScriptedHttpServer) -> None:
    api.script("/down", (502, "bad gateway"))
    with pytest.raises(TaskCommandError) as caught:
        call(endpoint="down", http_retry_limit=1)
    assert len(api.requests) == 2
    message = str(caught.value)
    assert message.startswith("task 'call': connection 'api': POST http://127.0.0.1:")
    assert "/down answered 502 Bad Gateway: bad gateway" in message


def test_4xx_is_not_retried_and_check_response_false_returns_it(api: ScriptedHttpServer) -> None:
    api.script("/missing", (404, "no such thing"))
    with pytest.raises(TaskCommandError, match="answered 404 Not Found"):
        call(endpoint="missing")
    assert len(api.requests) == 1
    assert call(endpoint="missing", extra_options={"check_response": False}) == "no such thing"


def test_response_check_false_fails_and_the_filter_feeds_the_xcom(api: ScriptedHttpServer) -> None:
    api.script("/status", (200, '{"state": "green", "count": 3}'))
    with pytest.raises(TaskCommandError, match="task 'call': response check returned False"):
        call(endpoint="status", response_check=lambda response: response.json()["state"] == "red")
    seen_ds: list[str] = []

    def check(response: object, ds: str) -> bool:
        seen_ds.append(ds)  # context entries the check names are passed to it
        return True

    result = call(
        endpoint="status", response_check=check, response_filter=lambda response: response.json()["count"]
    )
    assert result == 3 and seen_ds == ["2024-05-06"]


def test_task_retries_stay_apart_from_request_retries() -> None:
    with DAG("r", schedule=None, start_date=START, default_args={"retries": 2, "retry_delay": 60}):
        op = HttpOperator(task_id="t", endpoint="x", http_retry_delay=0.5)
    assert (op.retries, op.retry_delay.total_seconds(), op.http_retry_delay) == (2, 60.0, 0.5)


def test_connect_errors_are_retried_then_fail_without_the_password(connections: DictResolver) -> None:
    connections.add("api", f"http://bot:{PASSWORD}@127.0.0.1:1")
    slept: list[float] = []
    hook = HttpHook("GET", "api", retry_limit=3, retry_delay=0.5, sleep=slept.append)
    with pytest.raises(TaskCommandError) as caught:
        hook.run("x")
    assert slept == [0.5, 1.0, 2.0]  # doubled after each attempt
    assert "connection 'api': cannot reach http://127.0.0.1:1/x" in str(caught.value)
    assert PASSWORD not in str(caught.value)


@pytest.mark.parametrize(
    ("uri", "endpoint", "url"),
    [
        ("http://example.com", "v1/x", "http://example.com/v1/x"),
        ("http://example.com:8080", "/v1/x", "http://example.com:8080/v1/x"),
        ("http://example.com/https", "x", "https://example.com/x"),  # the schema is the URL scheme
        ('{"conn_type": "http", "host": "https://api.example.com/base/"}', "x", "https://api.example.com/base/x"),
        ('{"conn_type": "http", "host": "https://api.example.com", "port": 8443}', None, "https://api.example.com:8443"),
    ],
)  # fmt: skip
def test_base_url_follows_airflows_rules(
    connections: DictResolver, uri: str, endpoint: str | None, url: str
) -> None:
    connections.add("c", uri)
    assert HttpHook("GET", "c").url_from_endpoint(endpoint) == url


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"method": "FETCH"}, "method must be one of GET, POST"),
        ({"extra_options": {"timeout": 3, "retries": 2}}, "extra_options has unknown key(s) retries"),
        ({"http_retry_limit": -1}, "http_retry_limit must be an integer from 0 to 100"),
        ({"http_retry_delay": 301}, "http_retry_delay must be from 0 to 300 seconds"),
        ({"response_check": "yes"}, "response_check must be callable"),
        ({"headers": ["x"]}, "headers must be a mapping"),
    ],
)
def test_bad_arguments_fail_at_definition_naming_task_and_argument(
    kwargs: dict[str, object], message: str
) -> None:
    with DAG("bad", schedule=None, start_date=START), pytest.raises(DagDefinitionError) as caught:
        HttpOperator(task_id="t", endpoint="x", **kwargs)  # type: ignore[arg-type]
    assert str(caught.value).startswith("task 't' of DAG 'bad': ") and message in str(caught.value)


def test_uri_extras_are_text_flags_or_headers(connections: DictResolver) -> None:
    connections.add("c", "https://api.example.com?verify=false&allow_redirects=0&timeout=7&X-Api-Version=2")
    client, headers = HttpHook("GET", "c")._client_settings({})
    assert (client["verify"], client["follow_redirects"], client["timeout"]) == (False, False, 7.0)
    assert headers == {"X-Api-Version": "2"}
    connections.add("ca", "https://api.example.com?verify=%2Fetc%2Fca.pem")
    assert HttpHook("GET", "ca")._client_settings({})[0]["verify"] == "/etc/ca.pem"  # a CA bundle
