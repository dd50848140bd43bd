"""A worker's log server: its log folder, read-only, over HTTP, to holders of the shared secret.

``windvane celery worker`` starts one (``[celery] worker_log_server_port``,
bound to ``worker_log_server_host``) so that ``windvane tasks logs`` and the
API can read the log of a try that ran on it when the log folder is not
shared (:mod:`.remote`). It serves nothing but tries' log files:

* ``GET /log?dag_id=&run_id=&task_id=&try_number=&offset=&limit=``, signed
  (:mod:`.signing`): a JSON chunk (``content``, ``offset``, ``next_offset``,
  ``size``) read by :func:`~windvane.tasklogs.files.read_chunk`, so the path is
  built here and cannot leave the folder; 403 unsigned or badly signed, 404 no
  such log, 400 a malformed request;
* ``GET /health``: ``ok`` (no secret needed, says nothing).

Requests are answered in threads of the server's own (a daemon thread serves);
a failing request never stops the server or the worker.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from windvane.errors import NotFoundError, WindvaneError
from windvane.tasklogs.files import TryLog, read_chunk
from windvane.tasklogs.signing import verify

log = logging.getLogger(__name__)
#: The most bytes one request returns.
MAX_CHUNK_BYTES = 1 << 20


class LogServer:
    """Serves ``folder`` on ``host:port`` (port 0: the system picks; see :attr:`port`)."""

    def __init__(
        self, folder: Path, *, secret: str, host: str, port: int, clock: Callable[[], float] = time.time
    ) -> None:
        if not secret:
            raise WindvaneError(
                "the log server needs [celery] worker_log_server_secret: it serves no one without"
            )
        handler = _handler(Path(folder), secret, clock)
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="windvane-log-server", daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> LogServer:
        self._thread.start()
        return self

    def close_in_child(self) -> None:
        """A forked child's copy of the listening socket, closed (the parent keeps serving)."""
        self._server.socket.close()

    def stop(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
        self._server.server_close()


def _handler(folder: Path, secret: str, clock: Callable[[], float]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "windvane-log-server"

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            if url.path == "/health":
                self._send(200, b"ok", "text/plain")
                return
            if url.path != "/log":
                self._error(404, f"no such resource {url.path!r}: this server serves /log and /health")
                return
            try:
                query = {k: v[-1] for k, v in parse_qs(url.query, strict_parsing=False).items()}
                wanted = TryLog(query["dag_id"], query["run_id"], query["task_id"], int(query["try_number"]))
                offset = max(0, int(query.get("offset", "0")))
                limit = min(MAX_CHUNK_BYTES, max(1, int(query.get("limit", str(MAX_CHUNK_BYTES)))))
            except (KeyError, ValueError) as exc:
                self._error(400, f"malformed log request: {exc!r}")
                return
            refused = verify(secret, self.headers.get("Authorization"), wanted, clock())
            if refused is not None:
                self._error(403, refused)
                return
            try:
                chunk = read_chunk(folder, *_parts(wanted), offset, limit)
            except NotFoundError as exc:
                self._error(404, str(exc))
                return
            except WindvaneError as exc:  # a part that would lead outside the folder
                self._error(400, str(exc))
                return
            self._send(200, json.dumps(chunk).encode(), "application/json")

        def _error(self, code: int, message: str) -> None:
            self._send(code, json.dumps({"error": message}).encode(), "application/json")

        def _send(self, code: int, body: bytes, kind: str) -> None:
            self.send_response(code)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            log.debug("log server: " + format, *args)

    return Handler


def _parts(wanted: TryLog) -> tuple[str, str, str, int]:
    return wanted.dag_id, wanted.run_id, wanted.task_id, wanted.try_number
