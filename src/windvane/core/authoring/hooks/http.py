"""``HttpHook``: HTTP requests to a Connection's server with httpx (Airflow's ``HttpHook`` rules).

The base URL comes from the connection as in Airflow: a ``host`` holding ``://`` is the base URL
itself; otherwise ``<schema or "http">://<host>``; then ``:<port>`` if set. The endpoint is joined
with one ``/``. ``login``/``password`` are sent as HTTP basic auth. ``extra`` keys set the client
(``timeout``, ``verify``, ``allow_redirects``, ``proxies``, ``cert``, ``trust_env``) and every other
key is a header, as in Airflow.

A request that could not connect, or that got a 5xx answer, is retried ``retry_limit`` times,
waiting ``retry_delay`` seconds, doubled after each attempt (at most :data:`MAX_RETRY_DELAY`).
With ``check_response`` (the default), a final 4xx/5xx answer raises
:class:`~windvane.errors.TaskCommandError` naming the connection, the status and the URL. httpx is
imported only when a request is made.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from windvane.core.authoring.hooks.base import BaseHook
from windvane.core.model.connection import Connection
from windvane.errors import ConfigError, TaskCommandError

if TYPE_CHECKING:
    import httpx

log = logging.getLogger("windvane.task")

#: ``extra_options`` a request accepts (Airflow's names; ``allow_redirects`` is httpx's follow_redirects).
REQUEST_OPTIONS = frozenset(
    {"check_response", "timeout", "verify", "allow_redirects", "proxies", "cert", "trust_env"}
)
#: Connection ``extra`` keys that configure the client rather than becoming headers.
_CLIENT_EXTRAS = frozenset(
    {"timeout", "verify", "verify_ssl", "allow_redirects", "proxies", "proxy", "cert", "trust_env",
     "stream", "max_redirects", "check_response"}
)  # fmt: skip
#: The longest wait between two attempts, whatever ``retry_delay`` and the doubling say.
MAX_RETRY_DELAY = 300.0
DEFAULT_TIMEOUT = 60.0
#: Methods whose ``data`` goes in the query string.
_QUERY_METHODS = frozenset({"GET", "HEAD", "DELETE", "OPTIONS"})


class HttpHook(BaseHook):
    """Send requests to the server of connection ``http_conn_id``.

    :param method: the HTTP method.
    :param http_conn_id: the connection (``""``/None: no connection, the endpoint is a full URL).
    :param retry_limit: how many times a connect error or a 5xx answer is retried.
    :param retry_delay: seconds before the first retry; doubled after each.
    """

    def __init__(
        self,
        method: str = "POST",
        http_conn_id: str | None = "http_default",
        *,
        retry_limit: int = 3,
        retry_delay: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.method = method.upper()
        self.http_conn_id = http_conn_id
        self.retry_limit = retry_limit
        self.retry_delay = retry_delay
        self._sleep = sleep
        self.base_url = ""
        self._connection: Connection | None = None

    @property
    def connection(self) -> Connection | None:
        """The Connection (read once), or None without ``http_conn_id``."""
        if self._connection is None and self.http_conn_id:
            self._connection = self.get_connection(self.http_conn_id)
        return self._connection

    def _what(self) -> str:
        return f"connection {self.http_conn_id!r}" if self.http_conn_id else "HTTP"

    def get_base_url(self) -> str:
        """The connection's base URL (see the module doc)."""
        conn = self.connection
        if conn is None:
            return ""
        if conn.host and "://" in conn.host:
            base = conn.host
        else:
            base = f"{conn.schema or 'http'}://{conn.host or ''}"
        if conn.port:
            base += f":{conn.port}"
        return base

    def url_from_endpoint(self, endpoint: str | None) -> str:
        """The base URL and ``endpoint`` joined with exactly one ``/`` (Airflow's rule)."""
        base = self.get_base_url()
        if base and not base.endswith("/") and endpoint and not endpoint.startswith("/"):
            return f"{base}/{endpoint}"
        return base + (endpoint or "")

    def _client_settings(self, extra_options: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
        """httpx client arguments and headers from the connection's extra and ``extra_options``."""
        extra = dict(self.connection.extra_dejson) if self.connection is not None else {}
        settings = {key: extra.pop(key) for key in list(extra) if key in _CLIENT_EXTRAS}
        headers = {str(key): str(value) for key, value in extra.items()}
        settings.update(extra_options)
        verify = settings.get("verify", settings.get("verify_ssl", True))
        client: dict[str, Any] = {
            "timeout": float(settings.get("timeout") or DEFAULT_TIMEOUT),
            # a URI's extras are text: "false" turns checking off, any other text is a CA bundle path
            "verify": _flag(verify) if isinstance(verify, bool) or _is_flag_text(verify) else verify,
            "follow_redirects": _flag(settings.get("allow_redirects", True)),
            "trust_env": _flag(settings.get("trust_env", True)),
        }
        proxy = settings.get("proxies", settings.get("proxy"))
        if isinstance(proxy, Mapping):  # requests' {"https": url}: httpx takes one proxy URL
            proxy = proxy.get("https") or proxy.get("http")
        if proxy:
            client["proxy"] = proxy
        if settings.get("cert"):
            client["cert"] = settings["cert"]
        return client, headers

    def run(
        self,
        endpoint: str | None = None,
        data: Any = None,
        headers: Mapping[str, str] | None = None,
        extra_options: Mapping[str, Any] | None = None,
    ) -> httpx.Response:
        """Send one request (retried as the module doc says) and return the response.

        ``data`` goes in the query string for GET/HEAD/DELETE/OPTIONS; otherwise a str/bytes is
        the body, a mapping is form-encoded, as with Airflow's requests.
        """
        import httpx

        options = dict(extra_options or {})
        unknown = sorted(set(options) - REQUEST_OPTIONS)
        if unknown:
            raise ConfigError(
                f"{self._what()}: unknown extra_options {unknown} (known: {sorted(REQUEST_OPTIONS)})"
            )
        url = self.url_from_endpoint(endpoint)
        client_args, conn_headers = self._client_settings(options)
        conn = self.connection
        auth = httpx.BasicAuth(conn.login, conn.password or "") if conn is not None and conn.login else None
        request: dict[str, Any] = {"headers": {**conn_headers, **(headers or {})}}
        if self.method in _QUERY_METHODS:
            request["params"] = data
        elif isinstance(data, str | bytes):
            request["content"] = data
        elif data is not None:
            request["data"] = data
        log.info("Sending %r to url: %s", self.method, url)
        with httpx.Client(auth=auth, **client_args) as client:
            response = self._send_with_retries(client, url, request)
        if _flag(options.get("check_response", True)):
            self.check_response(response)
        return response

    def _send_with_retries(self, client: httpx.Client, url: str, request: dict[str, Any]) -> httpx.Response:
        import httpx

        delay = self.retry_delay
        for attempt in range(self.retry_limit + 1):
            last = attempt == self.retry_limit
            try:
                response = client.request(self.method, url, **request)
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                if last:
                    raise TaskCommandError(
                        self._scrub(f"{self._what()}: cannot reach {url} ({type(exc).__name__}: {exc})")
                    ) from None
                why = f"{type(exc).__name__}: {exc}"
            except httpx.HTTPError as exc:  # a timeout while reading, a broken answer: not retried
                raise TaskCommandError(
                    self._scrub(f"{self._what()}: {self.method} {url} failed ({type(exc).__name__}: {exc})")
                ) from None
            else:
                if response.status_code < 500 or last:
                    return response
                why = f"{response.status_code} {response.reason_phrase}"
            log.warning(
                "%s %s: %s; retrying in %.3gs (attempt %d of %d)",
                self.method, url, why, delay, attempt + 1, self.retry_limit + 1,
            )  # fmt: skip
            self._sleep(delay)
            delay = min(delay * 2, MAX_RETRY_DELAY)
        raise AssertionError("unreachable")  # pragma: no cover

    def check_response(self, response: httpx.Response) -> None:
        """Raise :class:`TaskCommandError` for a 4xx/5xx answer (its body's start in the message)."""
        if response.status_code < 400:
            return
        body = response.text[:300]
        raise TaskCommandError(
            self._scrub(
                f"{self._what()}: {response.request.method} {response.request.url} answered "
                f"{response.status_code} {response.reason_phrase}: {body}"
            )
        )

    def _scrub(self, message: str) -> str:
        conn = self._connection
        if conn is not None and conn.password:
            message = message.replace(conn.password, "***")
        return message


def _is_flag_text(value: object) -> bool:
    return isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0", "yes", "no")


def _flag(value: object) -> bool:
    """A setting's flag: a bool, or the text "true"/"1"/"yes" (a URI's extras are text)."""
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes", "on")
    return bool(value)
