"""Services beside the scheduler loop: declared by plug-ins, started and stopped here.

A plug-in declares a factory in the entry-point group ``windvane.services``;
the factory is handed a :class:`ServiceContext` (what a service may need,
passed in rather than looked up) and returns a
:class:`~windvane.core.interfaces.Service`. :class:`ServiceRunner` starts them
in order and stops them in reverse order. Services never break the scheduler:
a factory, ``start`` or ``stop`` that raises is logged naming the service and
counted in :attr:`ServiceRunner.failures`; a ``stop`` that overruns is abandoned.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from types import TracebackType

from sqlalchemy import Engine

from windvane.core.interfaces import Service
from windvane.metrics import MetricsSink
from windvane.plugins import SERVICES_GROUP, EntryPointLoader, describe, entry_points_of, load_entry_point
from windvane.settings import Settings

log = logging.getLogger("windvane.services")

#: Longest one service's ``stop`` is waited for before it is abandoned.
STOP_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class ServiceContext:
    """What a service factory is handed: the process's settings, its metadata database engine and
    its metrics sink (None: metrics are not wired in this process)."""

    settings: Settings
    engine: Engine
    metrics: MetricsSink | None = None


#: ``factory(context)`` -> a service, not started.
ServiceFactory = Callable[[ServiceContext], Service]


@dataclass
class ServiceRunner:
    """Starts ``services`` in order and stops the started ones in reverse order (a context manager)."""

    services: Sequence[Service]
    #: Factories, starts and stops that raised or overran (each one is logged).
    failures: int = 0
    stop_timeout: float = STOP_TIMEOUT_SECONDS

    def __post_init__(self) -> None:
        self._begun: list[Service] = []

    def start(self) -> None:
        for service in self.services:
            self._begun.append(service)
            try:
                service.start()
            except Exception:
                self.failures += 1
                log.exception("service %r failed to start; the scheduler goes on without it", _name(service))
            else:
                log.info("service %r started", _name(service))

    def stop(self) -> None:
        """Stop every service whose start was tried (a failed start may have left a thread behind)."""
        while self._begun:
            service = self._begun.pop()
            if not self._stop_one(service):
                self.failures += 1

    def _stop_one(self, service: Service) -> bool:
        outcome: list[BaseException | None] = []

        def stop() -> None:
            try:
                service.stop()
            except Exception as exc:
                outcome.append(exc)
            else:
                outcome.append(None)

        thread = threading.Thread(target=stop, name=f"stop-{_name(service)}", daemon=True)
        thread.start()
        thread.join(self.stop_timeout)
        if not outcome:
            log.error("service %r did not stop within %g s; abandoning it", _name(service), self.stop_timeout)
            return False
        if outcome[0] is not None:
            log.error("service %r failed to stop", _name(service), exc_info=outcome[0])
            return False
        log.info("service %r stopped", _name(service))
        return True

    def __enter__(self) -> ServiceRunner:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def load_services(
    context: ServiceContext, plugins: EntryPointLoader | None = None, *, only: Collection[str] | None = None
) -> tuple[list[Service], int]:
    """The services the plug-ins declare (those whose entry-point names are in ``only``, if
    given), built with ``context``, and how many failed to build.

    A broken entry point or a factory that raises is logged naming it and
    skipped; so is one that returns something without ``start``/``stop``.
    """
    services: list[Service] = []
    failures = 0
    for entry in entry_points_of(SERVICES_GROUP, plugins):
        if only is not None and entry.name not in only:
            continue
        try:
            service = load_entry_point(entry, SERVICES_GROUP)(context)
            if not isinstance(service, Service):
                raise TypeError(f"the factory returned {service!r}, not a Service (name, start, stop)")
        except Exception:
            failures += 1
            log.exception(
                "%s: no service built; the scheduler goes on without it", describe(entry, SERVICES_GROUP)
            )
            continue
        services.append(service)
    return services, failures


def _name(service: Service) -> str:
    try:
        return str(service.name)
    except Exception:
        return repr(service)
