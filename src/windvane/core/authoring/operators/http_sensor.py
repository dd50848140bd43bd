"""HttpSensor: wait until an endpoint answers as wanted (Airflow's http provider sensor).

Each poke sends one request through :class:`~windvane.core.authoring.hooks.http.HttpHook` (no
retries inside a poke: the next poke is the retry). An answer whose status is in
``response_error_codes_allowlist`` (default 404) means "not yet"; any other 4xx/5xx fails the
sensor (or skips it with ``soft_fail``); a success is handed to ``response_check`` when given.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

from windvane.core.authoring import validation as v
from windvane.core.authoring.operators.http import http_method, optional_callable, request_options
from windvane.core.authoring.per_instance import PerInstance, keep
from windvane.core.authoring.sensors.base import BaseSensorOperator, PokeReturnValue
from windvane.core.task_api.context import call_with_context
from windvane.errors import DagDefinitionError

log = logging.getLogger("windvane.task")


class HttpSensor(BaseSensorOperator):
    """Poke ``endpoint`` on the server of ``http_conn_id`` until it answers as wanted.

    :param http_conn_id: the connection giving base URL, auth and default headers.
    :param endpoint: the path after the base URL (templated).
    :param method: the HTTP method.
    :param request_params: query parameters for GET/HEAD/DELETE/OPTIONS, else the body (templated).
    :param headers: headers added to the connection's (templated).
    :param response_error_codes_allowlist: status codes (as strings, Airflow's type) that mean
        "not yet" (default ``["404"]``).
    :param response_check: ``check(response, **context)`` returning a bool or a
        ``PokeReturnValue``; without it any success answer ends the wait.
    :param extra_options: as for ``HttpOperator`` (``check_response=False``: no status fails).
    """

    template_fields: ClassVar[Sequence[str]] = ("endpoint", "request_params", "headers")
    # Defaults on the class (a task stores what it changes); lists and dicts are made when first read.
    http_conn_id: str = "http_default"
    method: str = "GET"
    request_params: Any = None
    headers: Any = PerInstance(dict)
    response_error_codes_allowlist: PerInstance[list[str]] = PerInstance(lambda: ["404"])
    response_check: Callable[..., Any] | None = None
    extra_options: PerInstance[dict[str, Any]] = PerInstance(dict)

    def __init__(
        self,
        *,
        endpoint: str,
        http_conn_id: str = "http_default",
        method: str = "GET",
        request_params: Mapping[str, Any] | str | None = None,
        headers: Mapping[str, str] | None = None,
        response_error_codes_allowlist: Sequence[str] | None = None,
        response_check: Callable[..., Any] | None = None,
        extra_options: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        owner = v.owner_name(self.task_id, self.dag.dag_id if self.dag is not None else None)
        self.endpoint: Any = v.string(endpoint, "endpoint", owner)
        keep(self, "http_conn_id", v.string(http_conn_id, "http_conn_id", owner))
        keep(self, "method", http_method(method, owner))
        keep(self, "request_params", request_params)
        keep(self, "headers", v.mapping(headers, "headers", owner))
        codes = v.strings(
            ["404"] if response_error_codes_allowlist is None else response_error_codes_allowlist,
            "response_error_codes_allowlist",
            owner,
        )
        if not all(code.isdigit() and len(code) == 3 for code in codes):
            raise DagDefinitionError(
                f"{owner}: response_error_codes_allowlist must hold 3-digit status codes, got {codes!r}"
            )
        keep(self, "response_error_codes_allowlist", codes)
        keep(self, "response_check", optional_callable(response_check, "response_check", owner))
        keep(self, "extra_options", request_options(extra_options, owner))

    def poke(self, context: dict[str, Any]) -> bool | PokeReturnValue:
        from windvane.core.authoring.hooks.http import HttpHook

        hook = HttpHook(self.method, self.http_conn_id, retry_limit=0)
        log.info("Poking: %s", self.endpoint)
        options = {**self.extra_options, "check_response": False}
        response = hook.run(self.endpoint, self.request_params, self.headers, options)
        if str(response.status_code) in self.response_error_codes_allowlist:
            log.info("Answered %s: not yet", response.status_code)
            return False
        if self.extra_options.get("check_response", True):
            hook.check_response(response)
        if self.response_check is not None:
            result = call_with_context(self.response_check, [response], {}, context)
            return result if isinstance(result, PokeReturnValue) else bool(result)
        return True
