"""Callbacks user code could not run where the change happened, run from the journal.

DAG-level ``on_failure_callback`` / ``on_success_callback``, and a task's
``on_failure_callback`` / ``on_retry_callback`` when its try was failed from
outside its process (a lost heartbeat: ``zombie``; its worker died:
``worker_died``; the try's process was killed or crashed — a signal, the OOM
killer, past ``execution_timeout``: ``task_killed``; it never started: ``claim_failed``,
``queued_timeout``) — in every other case the
try's own process runs them.

The scheduler never runs user code, so a DAG's callbacks cannot run where the
run finished. This service reads ``run_finished`` rows of the state-change
journal as the consumer :data:`CONSUMER` and, for a DAG that declared the
matching callback, loads its file in a forked child and calls each callback
with the run's context: ``dag``, ``dag_id``, ``run_id``, ``logical_date``,
``run_type``, ``state``, ``reason`` (``success``, ``task_failure`` or
``timed_out``, Airflow's names) and ``failed_task_instances`` (task id, state,
try number, error of each failed or upstream_failed task instance) — never an
arbitrary task's context. A task callback gets ``dag``, ``task``, ``task_id``,
``run_id``, ``try_number``, ``max_tries``, ``state``, ``reason`` and
``exception`` (the recorded error text). A callback that raises or hangs (``timeout``) is
logged with its traceback and counted in :attr:`DagCallbackRunner.failures`;
it changes no state.

Once per event, with several schedulers: runners take turns at the journal
consumer (:mod:`windvane.alerting.consumer_turn`: a row lock on PostgreSQL, a
file lock beside a SQLite database), and each entry that may call a callback is
handled in a turn of its own — read the cursor, call, advance the cursor, end
the turn. So a callback is called once per event across runners and restarts;
only a runner that dies (or whose database connection drops) between a call
returning and its turn committing leaves that one entry to be handled again:
at most one callback call repeated per runner death.

Metrics: ``windvane_callback_duration_seconds{kind}`` per call (the fork, the
DAG file's import and every callback of the list) and
``windvane_callback_failures_total{kind}`` per callback that raised, or per call
that timed out or could not load its DAG; ``kind`` is :func:`callback_kind`.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, select

from windvane.alerting.consumer_turn import Turn, take_turn
from windvane.alerting.forked_calls import call_each, call_forked
from windvane.core.interfaces import JournalEntry, JournalKind, JournalReader, SerializedDag
from windvane.core.store import dag_runs
from windvane.core.store.dags import get_serialized
from windvane.core.store.engine import begin_read
from windvane.core.store.tables import task_instance as ti_t
from windvane.core.worker.dag_loader import DagLoader
from windvane.errors import WindvaneError
from windvane.metrics import MetricsSink, NullSink
from windvane.metrics.catalogue_alerting import CALLBACK_DURATION, CALLBACK_FAILURES

if TYPE_CHECKING:
    from windvane.cli.services import ServiceContext

log = logging.getLogger("windvane.alerting.callbacks")

CONSUMER = "dag_callbacks"
_BATCH = 100
_HOOK = {"success": "on_success_callback", "failed": "on_failure_callback"}
_TASK_HOOK = {"failed": "on_failure_callback", "up_for_retry": "on_retry_callback"}
#: Journal reasons meaning the try's own process could not run its callbacks.
KILLED_FROM_OUTSIDE = ("zombie", "worker_died", "task_killed", "claim_failed", "queued_timeout")
#: The ``kind`` label of the callback metrics, by (hook, whether it is a task's).
_KINDS = {
    ("on_success_callback", False): "dag_success",
    ("on_failure_callback", False): "dag_failure",
    ("on_failure_callback", True): "task_failure",
    ("on_retry_callback", True): "task_retry",
}


def callback_kind(hook: str, task_id: str | None) -> str:
    """The ``kind`` label of the callback metrics for ``hook`` (of a task when ``task_id``)."""
    if hook == "sla_miss_callback":
        return "sla_miss"
    kind = _KINDS.get((hook, task_id is not None))
    if kind is None:
        raise ValueError(f"no callback metric kind for {hook!r} (task {task_id!r})")
    return kind


def reason_for(entry: JournalEntry) -> str:
    """Airflow's ``reason`` for the run an entry finished."""
    if entry.state == "success":
        return "success"
    return "timed_out" if entry.reason == "dagrun_timeout" else "task_failure"


class DagCallbackRunner:
    """A :class:`~windvane.core.interfaces.Service`: runs DAG callbacks for finished runs."""

    name = "dag-callbacks"

    def __init__(
        self,
        engine: Engine,
        *,
        poll_interval: float = 1.0,
        timeout: float = 60.0,
        metrics: MetricsSink | None = None,
    ) -> None:
        self.engine = engine
        self.poll_interval = poll_interval
        self.timeout = timeout
        self.metrics = metrics or NullSink()
        self.reader = JournalReader(engine, CONSUMER)
        #: Callbacks that raised or timed out (or whose DAG could not be loaded).
        self.failures = 0
        #: Callbacks called and returned.
        self.calls = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Register the journal consumer (before the scheduler loop starts), then poll in a thread."""
        if self._thread is not None:
            return
        self.reader.register()
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._stop.set()
        thread.join(self.timeout + 5.0)

    def run_tick(self) -> int:
        """Handle every journal entry not handled yet; how many callbacks were called.

        Each entry that may call a callback is handled in a turn of its own
        (:func:`~windvane.alerting.consumer_turn.take_turn`): the call, then the cursor's
        advance, committed as the turn ends. While another runner has the turn this one
        returns (it tries again on its next pass)."""
        called = 0
        while True:
            with take_turn(self.engine, CONSUMER) as turn:
                if turn is None:
                    return called
                caught_up, calls = self._take(turn)
            called += calls
            if caught_up:
                return called

    def _take(self, turn: Turn) -> tuple[bool, int]:
        """Handle entries after the turn's cursor, stopping after the first that may call a
        callback; (whether the journal is read to its end, callbacks called)."""
        entries = self.reader.read_after(turn.cursor, _BATCH)
        for entry in entries:
            if entry.kind is JournalKind.RUN_FINISHED:
                called = self._handle(entry)
            elif entry.kind is JournalKind.TRY_FINISHED and entry.reason in KILLED_FROM_OUTSIDE:
                called = self._handle_task(entry)
            else:
                continue  # nothing to call: passed over by the next advance
            turn.advance(entry.id)
            return False, called
        if entries:
            turn.advance(entries[-1].id)
        return len(entries) < _BATCH, 0

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_tick()
            except Exception:
                log.exception("DAG callbacks: a pass failed; trying again in %g s", self.poll_interval)
            self._stop.wait(self.poll_interval)

    def _handle(self, entry: JournalEntry) -> int:
        hook = _HOOK.get(entry.state)
        if hook is None:
            return 0
        with begin_read(self.engine) as conn:
            try:
                dag = SerializedDag.from_json(get_serialized(conn, entry.dag_id))
            except WindvaneError:
                return 0  # the DAG is gone: nothing to call
            if hook not in dag.callbacks:
                return 0
            runs = dag_runs.get_runs(conn, [entry.dag_run_id])
            failed = _failed_task_instances(conn, entry.dag_run_id)
        run = runs[0] if runs else None
        facts: dict[str, Any] = {
            "dag_id": entry.dag_id,
            "run_id": entry.run_id,
            "logical_date": run.logical_date if run else None,
            "run_type": run.run_type if run else None,
            "state": entry.state,
            "reason": reason_for(entry),
            "failed_task_instances": failed,
        }
        return self._call(dag.fileloc, entry, None, hook, facts)

    def _handle_task(self, entry: JournalEntry) -> int:
        hook = _TASK_HOOK.get(entry.state)
        if hook is None or entry.key is None:
            return 0
        task_id = entry.key.task_id
        with begin_read(self.engine) as conn:
            try:
                dag = SerializedDag.from_json(get_serialized(conn, entry.dag_id))
            except WindvaneError:
                return 0
        spec = dag.tasks.get(task_id)
        if spec is None or hook not in spec.callbacks:
            return 0
        facts: dict[str, Any] = {
            "dag_id": entry.dag_id,
            "task_id": task_id,
            "run_id": entry.run_id,
            "try_number": entry.try_number,
            "max_tries": entry.max_tries,
            "state": entry.state,
            "reason": entry.reason,
            "exception": entry.error,
        }
        return self._call(dag.fileloc, entry, task_id, hook, facts)

    def _call(
        self, fileloc: str, entry: JournalEntry, task_id: str | None, hook: str, facts: dict[str, Any]
    ) -> int:
        kind = callback_kind(hook, task_id)
        began = time.monotonic()
        report = call_forked(
            lambda: _call_in_child(fileloc, entry.dag_id, task_id, hook, facts), timeout=self.timeout
        )
        self.metrics.observe(CALLBACK_DURATION, time.monotonic() - began, kind=kind)
        if report.ended is not None:
            self.failures += 1
            self.metrics.incr(CALLBACK_FAILURES, kind=kind)
            log.error(
                "%s of DAG %r for run %s did not finish: %s", hook, entry.dag_id, entry.run_id, report.ended
            )
            return 0
        for error in report.errors:
            self.failures += 1
            self.metrics.incr(CALLBACK_FAILURES, kind=kind)
            log.error("%s of DAG %r for run %s failed:\n%s", hook, entry.dag_id, entry.run_id, error)
        self.calls += report.called
        return report.called


def _failed_task_instances(conn: Any, dag_run_id: int) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(ti_t.c.task_id, ti_t.c.state, ti_t.c.try_number, ti_t.c.error)
        .where(ti_t.c.dag_run_id == dag_run_id, ti_t.c.state.in_(["failed", "upstream_failed"]))
        .order_by(ti_t.c.task_id)
    )
    return [{"task_id": r[0], "state": r[1], "try_number": r[2], "error": r[3]} for r in rows]


def _call_in_child(
    fileloc: str, dag_id: str, task_id: str | None, hook: str, facts: dict[str, Any]
) -> tuple[int, list[str]]:
    """In the forked child: load the DAG file, call each callback of the DAG (or of its task
    ``task_id``); how many returned, and the tracebacks of the others."""
    dag = DagLoader().get_dag(fileloc, dag_id)
    owner: Any = dag if task_id is None else dag.get_task(task_id)
    context = {**facts, "dag": dag} if task_id is None else {**facts, "dag": dag, "task": owner}
    return call_each(getattr(owner, hook, None), context)


def create(context: ServiceContext) -> DagCallbackRunner:
    """The ``dag_callbacks`` entry point (group ``windvane.services``)."""
    return DagCallbackRunner(
        context.engine, timeout=context.settings.core.callback_timeout_seconds, metrics=context.metrics
    )
