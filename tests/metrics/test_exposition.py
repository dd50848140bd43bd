"""The fast ``/metrics`` text: the same bytes as ``prometheus_client`` writes from the registry, in both
formats, whatever the label values and values, across scrapes that see series change, appear and go;
and the HTTP endpoint answers every request the way ``prometheus_client``'s own server would."""

from __future__ import annotations

import gzip
import io
import urllib.request
from collections.abc import Callable
from typing import Any
from wsgiref.util import setup_testing_defaults

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.exposition import make_wsgi_app
from prometheus_client.openmetrics.exposition import generate_latest as openmetrics_latest

from windvane.metrics import catalogue as m
from windvane.metrics.exposition import number
from windvane.metrics.metrics_http import metrics_app
from windvane.metrics.prometheus_sink import PrometheusSink

label_text = st.text(alphabet=st.sampled_from('ab\\"\n é_{},='), max_size=4)
values = st.one_of(
    st.floats(allow_nan=False, allow_infinity=True, width=64),
    st.integers(min_value=0, max_value=10**9).map(float),
    st.sampled_from([0.0, -0.0, 1e6, 999999.9999, 1234567.0, 1e-7, 1e21, -1e21]),
)
Op = tuple[str, str, str, float]
ops = st.tuples(st.sampled_from(["incr", "gauge", "observe", "remove"]), label_text, label_text, values)


def apply(sink: PrometheusSink, op: Op) -> None:
    what, dag_id, task_id, value = op
    if what == "incr":
        sink.incr(m.TI_FINISH, abs(value), dag_id=dag_id, task_id=task_id, state="success")
        sink.incr(m.SCHEDULER_HEARTBEAT)
    elif what == "gauge":
        sink.gauge(m.POOL_OPEN_SLOTS, value, pool=dag_id)
    elif what == "observe":
        sink.observe(m.TASK_DURATION, abs(value), dag_id=dag_id, task_id=task_id)
        sink.observe(m.LOOP_QUEUED, abs(value))
    else:
        sink.remove(m.TASK_DURATION, dag_id=dag_id)
        sink.remove(m.TI_FINISH, task_id=task_id)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(ops, max_size=8), min_size=1, max_size=5))
def test_exposition_is_byte_for_byte_prometheus_clients(batches: list[list[Op]]) -> None:
    registry = CollectorRegistry()
    sink = PrometheusSink(registry, strict=True)
    for batch in batches:  # a scrape after each batch: kept lines must follow the changes
        for op in batch:
            apply(sink, op)
        assert sink.exposition() == generate_latest(registry)
        assert sink.exposition(openmetrics=True) == openmetrics_latest(registry)


@given(values)
def test_numbers_are_written_as_prometheus_client_writes_them(value: float) -> None:
    from prometheus_client.utils import floatToGoString

    assert number(value) == floatToGoString(value)  # type: ignore[no-untyped-call]


def call(
    app: Callable[..., Any], method: str = "GET", query: str = "", **headers: str
) -> tuple[str, dict[str, str], bytes]:
    environ: dict[str, Any] = {"REQUEST_METHOD": method, "PATH_INFO": "/metrics", "QUERY_STRING": query}
    environ.update({f"HTTP_{k.upper()}": v for k, v in headers.items()})
    setup_testing_defaults(environ)
    environ["wsgi.input"] = io.BytesIO()
    got: dict[str, Any] = {}

    def start_response(status: str, head: list[tuple[str, str]]) -> None:
        got["status"], got["headers"] = status, dict(head)

    body = b"".join(app(environ, start_response))
    if got["headers"].get("Content-Encoding") == "gzip":
        body = gzip.decompress(body)
    return got["status"], got["headers"], body


ACCEPTS = [
    "",
    "text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
    # what Prometheus 2 and 3 send by default
    "application/openmetrics-text;version=1.0.0;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,"
    "text/plain;version=0.0.4;q=0.3,*/*;q=0.2",
    "application/openmetrics-text",
    "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8",
    "application/openmetrics-text;version=1.0.0;escaping=dots",  # not fast: names change
    "application/openmetrics-text;version=2.0.0",
    "text/plain;version=1.0.0;escaping=values",
    "text/plain;version=1.0.0;escaping=underscores",
]


@pytest.fixture
def sink() -> PrometheusSink:
    sink = PrometheusSink(CollectorRegistry(), strict=True)
    for i in range(20):
        sink.observe(m.TASK_DURATION, i / 7, dag_id="d", task_id=f"t{i}")
        sink.incr(m.TI_START, dag_id="d", task_id=f"t{i}")
    sink.gauge(m.POOL_OPEN_SLOTS, 3, pool='we"ird\\')
    return sink


@pytest.mark.parametrize("accept", ACCEPTS)
@pytest.mark.parametrize("encoding", ["", "gzip", "deflate, gzip;q=0.9"])
def test_the_endpoint_answers_as_prometheus_clients_server(
    sink: PrometheusSink, accept: str, encoding: str
) -> None:
    ours = metrics_app(lambda om: sink.exposition(openmetrics=om), sink.registry)
    theirs = make_wsgi_app(sink.registry)
    headers = {"accept": accept, "accept_encoding": encoding}
    assert call(ours, **headers) == call(theirs, **headers)


@pytest.mark.parametrize(
    ("method", "query"), [("GET", "name[]=windvane_ti_start_total"), ("OPTIONS", ""), ("POST", "")]
)
def test_other_requests_go_to_prometheus_clients_app(sink: PrometheusSink, method: str, query: str) -> None:
    ours = metrics_app(lambda om: sink.exposition(openmetrics=om), sink.registry)
    assert call(ours, method, query) == call(make_wsgi_app(sink.registry), method, query)


def test_served_over_http_with_gzip(sink: PrometheusSink) -> None:
    port = sink.serve("127.0.0.1", 0)
    try:
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/metrics", headers={"Accept-Encoding": "gzip"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.headers["Content-Encoding"] == "gzip"
            assert response.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
            assert gzip.decompress(response.read()) == generate_latest(sink.registry)
    finally:
        sink.close()


def test_large_bucket_counts_are_written_as_prometheus_client_writes_them() -> None:
    registry = CollectorRegistry()
    sink = PrometheusSink(registry, strict=True)
    sink.observe(m.TASK_DURATION, 0.0, dag_id="d", task_id="t")
    counts = sink._tables[m.TASK_DURATION.name].values[("d", "t")]
    counts[0], counts[3] = 999_999, 2_345_678  # "2.345678e+06" past a million, as Go writes it
    assert sink.exposition() == generate_latest(registry)
