"""HttpOperator: one HTTP request to a Connection's server (Airflow's http provider operator).

The request goes through :class:`~windvane.core.authoring.hooks.http.HttpHook` (httpx; retried on
connect errors and 5xx answers). ``response_check`` and ``response_filter`` receive the
``httpx.Response`` and, by name, any context entries their signature asks for, as in Airflow;
the response text (or the filter's result) is the ``return_value`` XCom.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

from windvane.core.authoring import validation as v
from windvane.core.authoring.baseoperator import BaseOperator
from windvane.core.authoring.hooks.http import MAX_RETRY_DELAY, REQUEST_OPTIONS
from windvane.core.authoring.per_instance import PerInstance, keep
from windvane.core.task_api.context import call_with_context
from windvane.errors import DagDefinitionError, TaskCommandError

log = logging.getLogger("windvane.task")

HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
#: The most retries ``retry_limit`` may ask for.
MAX_RETRY_LIMIT = 100


class HttpOperator(BaseOperator):
    """Call ``endpoint`` on the server of ``http_conn_id``.

    :param http_conn_id: the connection giving base URL, auth and default headers.
    :param endpoint: the path after the base URL (templated).
    :param method: the HTTP method.
    :param data: query parameters for GET/HEAD/DELETE/OPTIONS, else the body: a str/bytes as is,
        a mapping form-encoded (templated).
    :param headers: headers added to the connection's (templated).
    :param response_check: ``check(response, **context) -> bool``; False fails the task.
    :param response_filter: ``filter(response, **context)``; its result is the XCom (default
        ``response.text``).
    :param extra_options: ``check_response`` (default True: a 4xx/5xx answer fails the task),
        ``timeout``, ``verify``, ``allow_redirects``, ``proxies``, ``cert``, ``trust_env``.
    :param log_response: log the response body.
    :param http_retry_limit: retries of the request after a connect error or a 5xx answer (0 to
        100), within one try (the task's own ``retries`` come after).
    :param http_retry_delay: seconds before the first such retry, doubled after each (at most 300).
    """

    template_fields: ClassVar[Sequence[str]] = ("endpoint", "data", "headers")
    template_ext: ClassVar[Sequence[str]] = ()
    ui_color: ClassVar[str] = "#f4a460"
    # Defaults on the class (a task stores what it changes); dicts are made when first read.
    http_conn_id: str = "http_default"
    endpoint: Any = None
    method: str = "POST"
    data: Any = None
    headers: Any = PerInstance(dict)
    response_check: Callable[..., Any] | None = None
    response_filter: Callable[..., Any] | None = None
    extra_options: PerInstance[dict[str, Any]] = PerInstance(dict)
    log_response: bool = False
    http_retry_limit: int = 3
    http_retry_delay: float = 1.0

    def __init__(
        self,
        *,
        http_conn_id: str = "http_default",
        endpoint: str | None = None,
        method: str = "POST",
        data: Any = None,
        headers: Mapping[str, str] | None = None,
        response_check: Callable[..., Any] | None = None,
        response_filter: Callable[..., Any] | None = None,
        extra_options: Mapping[str, Any] | None = None,
        log_response: bool = False,
        http_retry_limit: int = 3,
        http_retry_delay: float = 1.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        owner = v.owner_name(self.task_id, self.dag.dag_id if self.dag is not None else None)
        keep(self, "http_conn_id", v.string(http_conn_id, "http_conn_id", owner))
        keep(self, "endpoint", v.opt_string(endpoint, "endpoint", owner))
        keep(self, "method", http_method(method, owner))
        keep(self, "data", data)
        keep(self, "headers", v.mapping(headers, "headers", owner))
        keep(self, "response_check", optional_callable(response_check, "response_check", owner))
        keep(self, "response_filter", optional_callable(response_filter, "response_filter", owner))
        keep(self, "extra_options", request_options(extra_options, owner))
        keep(self, "log_response", v.flag(log_response, "log_response", owner))
        keep(
            self,
            "http_retry_limit",
            v.int_in(http_retry_limit, "http_retry_limit", owner, 0, MAX_RETRY_LIMIT),
        )
        keep(self, "http_retry_delay", request_retry_delay(http_retry_delay, owner))

    def get_hook(self) -> Any:
        """The hook the request goes through."""
        from windvane.core.authoring.hooks.http import HttpHook

        return HttpHook(
            self.method,
            self.http_conn_id,
            retry_limit=self.http_retry_limit,
            retry_delay=self.http_retry_delay,
        )

    def execute(self, context: dict[str, Any]) -> Any:
        try:
            response = self.get_hook().run(self.endpoint, self.data, self.headers, self.extra_options)
        except TaskCommandError as exc:
            raise TaskCommandError(f"task {self.task_id!r}: {exc}") from None
        if self.log_response:
            log.info("%s", response.text)
        if self.response_check is not None and not call_with_context(
            self.response_check, [response], {}, context
        ):
            raise TaskCommandError(
                f"task {self.task_id!r}: response check returned False "
                f"({response.status_code} from {response.request.url})"
            )
        if self.response_filter is not None:
            return call_with_context(self.response_filter, [response], {}, context)
        return response.text


def http_method(value: object, owner: str) -> str:
    """``value`` upper-cased if it is an HTTP method, else a DagDefinitionError."""
    if not isinstance(value, str) or value.upper() not in HTTP_METHODS:
        raise DagDefinitionError(f"{owner}: method must be one of {', '.join(HTTP_METHODS)}, got {value!r}")
    return value.upper()


def request_retry_delay(value: object, owner: str) -> float:
    """``http_retry_delay`` in seconds: 0 to :data:`MAX_RETRY_DELAY`, else a DagDefinitionError."""
    seconds = v.duration(value, "http_retry_delay", owner).total_seconds()
    if seconds > MAX_RETRY_DELAY:
        raise DagDefinitionError(
            f"{owner}: http_retry_delay must be from 0 to {MAX_RETRY_DELAY:g} seconds, got {value!r}"
        )
    return seconds


def optional_callable(value: object, name: str, owner: str) -> Callable[..., Any] | None:
    """None or a callable, else a DagDefinitionError."""
    if value is not None and not callable(value):
        raise DagDefinitionError(f"{owner}: {name} must be callable or None, got {value!r}")
    return value


def request_options(value: object, owner: str) -> dict[str, Any]:
    """``extra_options`` with only the keys a request accepts."""
    options = v.mapping(value, "extra_options", owner)
    unknown = sorted(set(options) - REQUEST_OPTIONS)
    if unknown:
        raise DagDefinitionError(
            f"{owner}: extra_options has unknown key(s) {', '.join(unknown)} "
            f"(known: {', '.join(sorted(REQUEST_OPTIONS))})"
        )
    return options
