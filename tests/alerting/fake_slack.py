"""A local HTTP server that answers like Slack (incoming webhooks and ``chat.postMessage``), or any receiver.

Runs ``http.server`` in a thread on 127.0.0.1 (an ephemeral port), records every
request, and answers from a script: queue :class:`Reply` values with
:meth:`FakeSlack.script`; with the queue empty it answers like Slack does when all
is well (webhook: ``200 ok``; ``chat.postMessage``: ``{"ok": true}``, or
``invalid_auth`` for a wrong token). A reply with ``delay`` holds the request
(released at once on :meth:`FakeSlack.stop`), for timeout tests.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

WEBHOOK_PATH = "/services/T0001/B0001/abcdefSECRETwebhookpath"
API_PATH = "/api/"


@dataclass(frozen=True)
class Recorded:
    """One request the server received."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(frozen=True)
class Reply:
    """What to answer: a status, a body (a dict is sent as JSON), headers, and an optional hold."""

    status: int = 200
    body: str | dict[str, Any] = "ok"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


def ratelimited(retry_after: int = 7, *, api: bool = False) -> Reply:
    """Slack's 429: ``Retry-After`` and, on the Web API, ``{"ok": false, "error": "ratelimited"}``."""
    body: str | dict[str, Any] = {"ok": False, "error": "ratelimited"} if api else "rate_limited"
    return Reply(429, body, {"Retry-After": str(retry_after)})


def api_error(error: str) -> Reply:
    """A Web API failure as Slack sends it: HTTP 200 with ``ok: false``."""
    return Reply(200, {"ok": False, "error": error})


class FakeSlack:
    """The server; use as a context manager or call :meth:`start` / :meth:`stop`."""

    def __init__(self, *, token: str = "xoxb-test-token") -> None:
        self.token = token
        self.requests: list[Recorded] = []
        self._replies: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._release = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._serve, name="fake-slack", daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def webhook_url(self) -> str:
        return self.base_url + WEBHOOK_PATH

    @property
    def api_url(self) -> str:
        return self.base_url + API_PATH

    def _serve(self) -> None:
        self._server.serve_forever(poll_interval=0.02)  # a quick shutdown at the end of each test

    def script(self, *replies: Reply) -> None:
        with self._lock:
            self._replies.extend(replies)

    def clear_script(self) -> None:
        """Drop the replies not given yet: from now on answer like Slack when all is well."""
        with self._lock:
            self._replies.clear()

    def start(self) -> FakeSlack:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._release.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> FakeSlack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _next_reply(self, recorded: Recorded) -> Reply:
        with self._lock:
            self.requests.append(recorded)
            if self._replies:
                return self._replies.popleft()
        if recorded.path.startswith(API_PATH):
            if recorded.headers.get("authorization") != f"Bearer {self.token}":
                return api_error("invalid_auth")
            return Reply(200, {"ok": True, "channel": "C0001", "ts": "1700000000.000100"})
        return Reply(200, "ok")

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                headers = {k.lower(): v for k, v in self.headers.items()}
                reply = fake._next_reply(Recorded("POST", self.path, headers, body))
                if reply.delay:
                    fake._release.wait(reply.delay)
                raw = json.dumps(reply.body) if isinstance(reply.body, dict) else reply.body
                data = raw.encode()
                try:
                    self.send_response(reply.status)
                    ctype = "application/json" if isinstance(reply.body, dict) else "text/plain"
                    self.send_header("Content-Type", f"{ctype}; charset=utf-8")
                    self.send_header("Content-Length", str(len(data)))
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass  # the client gave up (a timeout test)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler
