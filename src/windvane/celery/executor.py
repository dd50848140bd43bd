"""CeleryExecutor: tries go to a broker; ``windvane celery worker`` processes anywhere run them.

The scheduler's side of the Celery executor. :meth:`CeleryExecutor.queue`
hands a try to the :class:`~windvane.celery.publisher.Publisher` thread (never
blocks, survives a broker outage) as one message on the Celery queue named by
the task's ``queue`` (``default`` maps to ``[celery] default_queue``). Each
message has a task id of its own, so a result can only ever belong to the
queueing it answers.

What comes back: on a Redis result backend each message names this executor's
report list (:class:`~windvane.celery.report_list.ReportList`): the try's pool
process pushes its ``running`` event and its final one there, and a thread
drains the list as they come and wakes :meth:`CeleryExecutor.wait`, which
otherwise sleeps (no polling). On another backend (``db+``) the executor reads
the result of each try it waits on (:class:`~windvane.celery.results.ResultReader`)
every ``poll_seconds`` while results keep coming, ``idle_poll_seconds`` when
not. Tries whose report never comes (the zombie sweep ended them after their
worker died with its pool; a report lost; a Celery task that crashed, whose
``FAILURE`` Celery stores as a result) are settled every ``reconcile_seconds``:
their result keys are read, then the database
(:class:`~windvane.celery.reconcile.Reconciler`); a try is also let go as soon
as the scheduler queues the next try of the same task instance.

With ``send_ahead`` (``[celery] send_ahead``) the scheduler keeps up to twice
``parallelism`` tries sent: a pool process that ends a try finds its next one
on the broker instead of waiting for the scheduler to hear of the end, queue
and publish (a round trip through the scheduler per try). At most
``parallelism`` run only if the workers' total concurrency is no more than
``parallelism``; the others wait, unacknowledged, on the broker.

``end(graceful=False)`` does not kill tries: they run on workers this process
does not own (as in Airflow). A graceful end waits, up to
``end_timeout_seconds``, for the tries already sent.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import Counter
from dataclasses import dataclass

from windvane.celery.app import TASK_NAME, make_app
from windvane.celery.config import CeleryConfig
from windvane.celery.messages import workload_to_dict
from windvane.celery.publisher import Message, Publisher
from windvane.celery.reconcile import Reconciler
from windvane.celery.report_list import ReportList, can_push
from windvane.celery.results import Report, ResultReader
from windvane.core.executors.base import Executor
from windvane.core.executors.wakeup import WakeupPipe
from windvane.core.model.workload import TaskEvent, Workload
from windvane.core.store.try_lifecycle import make_event
from windvane.errors import ExecutorError

log = logging.getLogger(__name__)


@dataclass(eq=False)
class _InFlight:
    workload: Workload
    queue: str
    since: float
    running: bool = False


class CeleryExecutor(Executor):
    """Sends tries to Celery workers and reads their results (see the module doc)."""

    name = "celery"

    def __init__(
        self,
        parallelism: int,
        *,
        config: CeleryConfig,
        db_url: str,
        poll_seconds: float = 0.005,
        idle_poll_seconds: float = 0.05,
        reconcile_seconds: float = 10.0,
        end_timeout_seconds: float = 60.0,
        send_ahead: bool = False,
    ) -> None:
        super().__init__(parallelism)
        config.check()
        self.config = config
        self.poll_seconds = poll_seconds
        self.idle_poll_seconds = idle_poll_seconds
        self.reconcile_seconds = reconcile_seconds
        self.end_timeout_seconds = end_timeout_seconds
        self.send_ahead = send_ahead
        self._db_url = db_url
        self._app = make_app(config)
        self._reader = ResultReader(self._app)
        self._list = ReportList(self._app, self.wake) if can_push(self._app) else None
        self._reconciler = Reconciler(db_url)
        self._publisher = Publisher(self._app, TASK_NAME, on_failure=self._publish_failed)
        self._inflight: dict[str, _InFlight] = {}
        self._by_ti: dict[int, str] = {}
        self._events: list[TaskEvent] = []
        self._wakeup: WakeupPipe | None = None
        self._ending = False
        self._closed = False
        self._next_reconcile = 0.0
        self._last_result = 0.0
        #: Failed sends per Celery queue (each retried until it lands).
        self.publish_failures: Counter[str] = Counter()

    # -- the Executor contract ------------------------------------------
    def start(self) -> None:
        if self._wakeup is not None:
            raise ExecutorError("CeleryExecutor.start() was called twice")
        self._wakeup = WakeupPipe()
        if self._list is not None:
            self._list.start()
        self._publisher.start()
        self._next_reconcile = time.monotonic() + self.reconcile_seconds

    def queue(self, workload: Workload) -> None:
        if self._wakeup is None or self._ending:
            raise ExecutorError("CeleryExecutor is not running: call start() first, and not after end()")
        previous = self._by_ti.pop(workload.ti_id, None)
        if previous is not None:  # an earlier try of it ended without a result (its worker died)
            log.warning("Celery task %s: a later try of %s was queued; let go", previous, workload.key)
            self._inflight.pop(previous, None)
        task_id = f"wv-{workload.ti_id}-{workload.try_number}-{uuid.uuid4().hex[:12]}"
        queue = self.config.queue_for(workload.queue)
        self._inflight[task_id] = _InFlight(workload, queue, time.monotonic())
        self._by_ti[workload.ti_id] = task_id
        reply_to = None if self._list is None else self._list.key
        self._publisher.put(Message(task_id, queue, workload_to_dict(workload, reply_to=reply_to)))

    def events(self) -> list[TaskEvent]:
        if self._inflight:
            self._poll()
        events, self._events = self._events, []
        return events

    def wait(self, timeout: float) -> None:
        if self._events or self._wakeup is None or self._closed:
            return
        deadline = time.monotonic() + max(0.0, timeout)
        while True:
            if self._inflight:
                self._poll()
                if self._events:
                    return
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            if self._list is not None:  # the list's thread wakes us; reconcile on time
                step = (
                    min(remaining, max(0.0, self._next_reconcile - time.monotonic()))
                    if self._inflight
                    else remaining
                )
            else:
                step = remaining if not self._inflight else min(remaining, self._interval())
            if self._wakeup.wait(step):
                return

    def wake(self) -> None:
        if self._wakeup is not None and not self._closed:
            self._wakeup.wake()

    @property
    def queued_count(self) -> int:
        return sum(1 for entry in self._inflight.values() if not entry.running)

    @property
    def open_slots(self) -> int:
        """Room for ``parallelism`` tries and, sending ahead, as many again waiting on the broker."""
        room = self.parallelism * (2 if self.send_ahead else 1)
        return max(0, room - len(self._inflight))

    @property
    def running_count(self) -> int:
        return sum(1 for entry in self._inflight.values() if entry.running)

    def queue_counts(self) -> dict[str, tuple[int, int]]:
        """Celery queue -> (tries queued, tries running) that this executor waits on."""
        counts: dict[str, tuple[int, int]] = {}
        for entry in self._inflight.values():
            queued, running = counts.get(entry.queue, (0, 0))
            counts[entry.queue] = (queued, running + 1) if entry.running else (queued + 1, running)
        return counts

    def end(self, *, graceful: bool = True) -> None:
        """Stop sending. Graceful: wait (up to ``end_timeout_seconds``) for the tries sent already;
        tries not sent stay ``queued`` in the database. Tries on workers are never killed."""
        if self._wakeup is None or self._ending:
            return
        self._ending = True
        for message in self._publisher.discard():
            entry = self._inflight.pop(message.task_id, None)
            if entry is not None:
                self._by_ti.pop(entry.workload.ti_id, None)
        deadline = time.monotonic() + self.end_timeout_seconds
        while graceful and self._inflight and time.monotonic() < deadline:
            self._poll()
            self._wakeup.wait(self.idle_poll_seconds)
        if self._inflight:
            log.warning("CeleryExecutor ends with %d tries still on workers", len(self._inflight))
        self._inflight.clear()
        self._by_ti.clear()
        self._publisher.stop()
        if self._list is not None:
            self._list.stop()
        self._reconciler.close()
        self._closed = True
        self._wakeup.close()
        self._app.close()

    # -- results -----------------------------------------------------------
    def _interval(self) -> float:
        """Poll fast while results keep coming (a chain's next task is ready), slower when idle."""
        recent = time.monotonic() - self._last_result < 1.0
        return self.poll_seconds if recent else self.idle_poll_seconds

    def _poll(self) -> None:
        if self._list is not None:
            for report in self._list.take():
                self._apply(report)
        else:
            self._read_results(list(self._inflight))
        if time.monotonic() >= self._next_reconcile:
            self._reconcile()

    def _read_results(self, task_ids: list[str]) -> None:
        try:
            reports = self._reader.read(task_ids)
        except Exception as exc:  # the backend is down: the tries go on; read again later
            log.warning("could not read Celery results: %s", exc)
            reports = []
        finished = [report.task_id for report in reports if report.final]
        for report in reports:
            self._apply(report)
        if finished:
            self._last_result = time.monotonic()
            self._reader.forget(finished)

    def _apply(self, report: Report) -> None:
        entry = self._inflight.get(report.task_id)
        if entry is None:
            return
        if not report.final:
            if not entry.running and report.event is not None:
                entry.running = True
                self._events.append(report.event)
            return
        del self._inflight[report.task_id]
        if self._by_ti.get(entry.workload.ti_id) == report.task_id:
            del self._by_ti[entry.workload.ti_id]
        if report.event is not None:
            self._events.append(report.event)
        else:
            error = f"the Celery task running the try failed: {report.failure}"
            self._events.append(make_event(entry.workload, None, time.time(), error=error))

    def _reconcile(self) -> None:
        now = time.monotonic()
        self._next_reconcile = now + self.reconcile_seconds
        old_ids = [
            task_id
            for task_id, entry in self._inflight.items()
            if now - entry.since >= self.reconcile_seconds
        ]
        if old_ids and self._list is not None:  # Celery's FAILURE records, workers that ignore reply_to
            self._read_results(old_ids)
        old = [
            (task_id, self._inflight[task_id].workload) for task_id in old_ids if task_id in self._inflight
        ]
        if not old:
            return
        verdict = self._reconciler.check(old)
        for task_id in [*verdict.gone, *verdict.events]:
            entry = self._inflight.pop(task_id, None)
            if entry is not None and self._by_ti.get(entry.workload.ti_id) == task_id:
                del self._by_ti[entry.workload.ti_id]
        self._events.extend(verdict.events.values())

    def _publish_failed(self, queue: str, error: Exception) -> None:
        self.publish_failures[queue] += 1
