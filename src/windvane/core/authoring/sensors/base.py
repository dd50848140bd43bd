"""BaseSensorOperator: wait for a condition by poking, in a loop or rescheduled (Airflow 2's semantics).

Subclasses implement :meth:`BaseSensorOperator.poke`, returning a bool or a
:class:`PokeReturnValue` (whose ``xcom_value`` becomes the ``return_value`` XCom once done).

* ``mode="poke"``: the try holds its worker and pool slot and pokes every ``poke_interval``.
* ``mode="reschedule"``: a poke that finds the condition unmet ends the try as
  ``up_for_reschedule``; the slot is free until the scheduler queues it again after
  ``poke_interval``. The try number does not change, and ``timeout`` counts from the first poke
  of the first try (since the last clear), across reschedules and retries, as in Airflow.

Past ``timeout`` the sensor raises :class:`~windvane.errors.SensorTimeout` (failed, no retry), or
:class:`~windvane.errors.TaskSkipped` with ``soft_fail``; with ``soft_fail`` any error raised by
``poke`` skips the task too.
"""

from __future__ import annotations

import hashlib
import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from windvane.core.authoring import validation as v
from windvane.core.authoring.baseoperator import BaseOperator
from windvane.core.authoring.per_instance import keep
from windvane.core.task_api.task_instance import RuntimeTaskInstance
from windvane.errors import (
    DagDefinitionError,
    RescheduleRequested,
    SensorTimeout,
    TaskFailedNoRetry,
    TaskSkipped,
    TaskTimeoutError,
)

log = logging.getLogger("windvane.task")

#: Airflow's default ``timeout``: seven days.
DEFAULT_TIMEOUT = timedelta(days=7).total_seconds()
VALID_MODES = ("poke", "reschedule")


class PokeReturnValue:
    """What ``poke`` may return instead of a bool: whether the sensor is done, and an XCom value."""

    def __init__(self, is_done: bool, xcom_value: Any = None) -> None:
        self.is_done = is_done
        self.xcom_value = xcom_value

    def __bool__(self) -> bool:
        return bool(self.is_done)

    def __repr__(self) -> str:
        return f"PokeReturnValue(is_done={self.is_done!r}, xcom_value={self.xcom_value!r})"


def _seconds(value: timedelta | float | int, name: str, owner: str) -> float:
    """A non-negative, finite number of seconds from ``value`` (a ``timedelta`` or a number)."""
    return v.duration(value, name, owner).total_seconds()


class BaseSensorOperator(BaseOperator):
    """Wait until :meth:`poke` says the condition is met (see the module doc).

    :param poke_interval: seconds (or a ``timedelta``) between pokes.
    :param timeout: seconds (or a ``timedelta``) before the sensor gives up; default 7 days.
    :param soft_fail: skip instead of failing on timeout or on an error raised by ``poke``.
    :param mode: ``"poke"`` or ``"reschedule"``.
    :param exponential_backoff: grow the interval between pokes exponentially (Airflow's formula).
    :param max_wait: the longest interval between pokes with ``exponential_backoff``.
    """

    ui_color: ClassVar[str] = "#e6f1f2"
    valid_modes: ClassVar[tuple[str, ...]] = VALID_MODES
    # Defaults on the class: a sensor stores only what it changes (per_instance.keep).
    poke_interval: float = 60.0
    timeout: float = DEFAULT_TIMEOUT
    soft_fail: bool = False
    mode: str = "poke"
    exponential_backoff: bool = False
    max_wait: float | None = None

    def __init__(
        self,
        *,
        poke_interval: timedelta | float = 60,
        timeout: timedelta | float = DEFAULT_TIMEOUT,
        soft_fail: bool = False,
        mode: str = "poke",
        exponential_backoff: bool = False,
        max_wait: timedelta | float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        owner = v.owner_name(self.task_id, self.dag.dag_id if self.dag is not None else None)
        keep(self, "poke_interval", _seconds(poke_interval, "poke_interval", owner))
        keep(self, "timeout", _seconds(timeout, "timeout", owner))
        keep(self, "soft_fail", v.flag(soft_fail, "soft_fail", owner))
        if mode not in self.valid_modes:
            raise DagDefinitionError(
                f"{owner} has mode {mode!r}; expected one of {', '.join(map(repr, self.valid_modes))}"
            )
        keep(self, "mode", mode)
        keep(self, "exponential_backoff", v.flag(exponential_backoff, "exponential_backoff", owner))
        keep(self, "max_wait", None if max_wait is None else _seconds(max_wait, "max_wait", owner))

    @property
    def reschedule(self) -> bool:
        """True in ``mode="reschedule"``."""
        return self.mode == "reschedule"

    # -- what subclasses implement ---------------------------------------
    def poke(self, context: dict[str, Any]) -> bool | PokeReturnValue:
        """Check the condition once: True (or a done :class:`PokeReturnValue`) when it is met."""
        raise NotImplementedError(f"{type(self).__name__} must implement poke(context)")

    # -- the loop --------------------------------------------------------
    def execute(self, context: dict[str, Any]) -> Any:
        ti: RuntimeTaskInstance = context["ti"]
        now = _utc_now()
        if self.reschedule:
            started_at = ti.first_poke_at or now
            poke_count = ti.reschedule_count + 1
            start_mono = time.monotonic() - (now - started_at).total_seconds()
        else:
            started_at = now
            poke_count = 1
            start_mono = time.monotonic()

        def run_duration() -> float:
            return time.monotonic() - start_mono

        while True:
            result = self._poke_once(context, ti)
            if result:
                log.info("Success criteria met. Exiting.")
                return result.xcom_value if isinstance(result, PokeReturnValue) else None
            duration = run_duration()
            if duration > self.timeout:
                message = (
                    f"Sensor {self.task_id!r} has timed out; run duration of {duration:.1f} seconds "
                    f"exceeds the specified timeout of {self.timeout:g} seconds"
                )
                ti.sensor_timed_out = True
                if self.soft_fail:
                    raise TaskSkipped(f"{message} (soft_fail: skipped)")
                raise SensorTimeout(message)
            interval = self.next_poke_interval(started_at, duration, poke_count)
            if self.reschedule:
                reschedule_date = _utc_now() + timedelta(seconds=interval)
                log.info("Rescheduling %s to %s", self.task_id, reschedule_date.isoformat())
                raise RescheduleRequested(reschedule_date)
            log.info("Condition not met; poking again in %g s", interval)
            self.sleep(interval)
            poke_count += 1

    def sleep(self, seconds: float) -> None:
        """How a poke-mode sensor waits between pokes."""
        time.sleep(seconds)

    def now(self) -> datetime:
        """The current time (aware UTC) as the sensor sees it; time-based sensors compare with it."""
        return _utc_now()

    def _poke_once(self, context: dict[str, Any], ti: RuntimeTaskInstance) -> bool | PokeReturnValue:
        ti.sensor_pokes += 1
        try:
            return self.poke(context)
        except (TaskSkipped, RescheduleRequested):
            raise
        except (SensorTimeout, TaskTimeoutError, TaskFailedNoRetry) as exc:
            if self.soft_fail:
                raise TaskSkipped(f"skipped because soft_fail is set: {exc}") from exc
            raise
        except Exception as exc:
            if self.soft_fail:
                raise TaskSkipped(f"skipped because soft_fail is set: {type(exc).__name__}: {exc}") from exc
            raise

    def next_poke_interval(self, started_at: datetime, run_duration: float, poke_count: int) -> float:
        """Seconds until the next poke: ``poke_interval``, or with ``exponential_backoff`` Airflow's
        jittered doubling (deterministic per DAG, task, start and poke), capped by what is left of
        ``timeout`` and by ``max_wait``."""
        if not self.exponential_backoff:
            return self.poke_interval
        min_backoff = max(int(self.poke_interval * (2 ** (poke_count - 2))), 1)
        dag_id = self.dag.dag_id if self.dag is not None else ""
        seed = f"{dag_id}#{self.task_id}#{started_at.isoformat()}#{poke_count}".encode()
        run_hash = int(hashlib.sha1(seed, usedforsecurity=False).hexdigest(), 16)
        interval = float(min(min_backoff + run_hash % min_backoff, timedelta.max.total_seconds() - 1))
        interval = max(0.0, min(self.timeout - int(run_duration), interval))
        if self.max_wait is not None:
            interval = min(self.max_wait, interval)
        return interval


def _utc_now() -> datetime:
    return datetime.now(UTC)
