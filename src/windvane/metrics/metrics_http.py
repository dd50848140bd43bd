"""The ``/metrics`` HTTP endpoint: :func:`metrics_app` and :func:`start_server`.

It answers like ``prometheus_client``'s own server (same content negotiation,
gzip when the client accepts it, ``OPTIONS``, ``/favicon.ico``, ``name[]``
filters), but the text format 0.0.4 and OpenMetrics 1.0.0 are written by a
fast renderer (:class:`~windvane.metrics.exposition.Exposition`) instead of the
registry's generic path. Whatever the renderer does not cover (other name
escapings, other versions, ``name[]``) goes to ``prometheus_client``'s app.

Gzip uses level :data:`GZIP_LEVEL`: Prometheus asks for gzip on every scrape,
and on this repetitive text level 1 is within 25 % of level 9's size
(``prometheus_client``'s choice) for a tenth of the CPU (1.4 MB: 71 vs 57 kB,
~3 vs ~43 ms).
"""

from __future__ import annotations

import functools
import gzip
import socket
import threading
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import (
    ThreadingWSGIServer,
    choose_encoder,
    generate_latest,
    gzip_accepted,
    make_wsgi_app,
)
from prometheus_client.openmetrics import exposition as openmetrics

GZIP_LEVEL = 1

#: ``render(openmetrics)``: the whole exposition as bytes.
Render = Callable[[bool], bytes]
WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

#: Name escapings under which Windvane's names (all legacy-valid) are written unchanged.
_PLAIN_ESCAPINGS = (openmetrics.UNDERSCORES, openmetrics.ALLOWUTF8)


def fast_format(accept: str | None) -> tuple[bool, str] | None:
    """(OpenMetrics?, content type) that ``prometheus_client`` would answer ``accept`` with, when
    the fast renderer writes the same bytes; None otherwise."""
    encoder, content_type = choose_encoder(accept or "")
    if encoder is generate_latest:
        return False, content_type
    if not isinstance(encoder, functools.partial) or encoder.keywords.get("escaping") not in _PLAIN_ESCAPINGS:
        return None
    if encoder.func is generate_latest:
        return False, content_type
    if encoder.func is openmetrics.generate_latest and encoder.keywords.get("version") == "1.0.0":
        return True, content_type
    return None


def metrics_app(render: Render, registry: CollectorRegistry) -> WsgiApp:
    """A WSGI app serving ``render``'s exposition (``registry``'s generic one where it must)."""
    generic: WsgiApp = make_wsgi_app(registry)

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if (
            environ["REQUEST_METHOD"] != "GET"
            or environ.get("PATH_INFO") == "/favicon.ico"
            or "name[]" in parse_qs(environ.get("QUERY_STRING", ""))
        ):
            return generic(environ, start_response)
        chosen = fast_format(environ.get("HTTP_ACCEPT"))
        if chosen is None:
            return generic(environ, start_response)
        openmetrics_format, content_type = chosen
        body = render(openmetrics_format)
        headers = [("Content-Type", content_type)]
        if gzip_accepted(environ.get("HTTP_ACCEPT_ENCODING", "")):
            body = gzip.compress(body, compresslevel=GZIP_LEVEL)
            headers.append(("Content-Encoding", "gzip"))
        start_response("200 OK", headers)
        return [body]

    return app


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Log nothing: a scrape every 15 s is not news."""


def start_server(app: WsgiApp, host: str, port: int) -> tuple[WSGIServer, threading.Thread]:
    """Serve ``app`` on ``host:port`` (IPv4 or IPv6 as ``host`` says) from a daemon thread.

    Raises ``OSError`` when it cannot listen."""

    class Server(ThreadingWSGIServer):
        pass

    family, _, _, _, sockaddr = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    Server.address_family = family
    server = make_server(str(sockaddr[0]), port, app, Server, handler_class=_Quiet)
    thread = threading.Thread(target=server.serve_forever, name="windvane-metrics-http", daemon=True)
    thread.start()
    return server, thread
