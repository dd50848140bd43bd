"""Run a DAG, or one of its tasks, in a test and get back what happened: states, XComs, logs.

:func:`run_dag` runs a whole manual run in this process (the runner behind
``windvane dags test``: real trigger rules, skips, retries) and
:func:`run_one_task` runs one task like a worker runs a try (retries
included), upstream XComs supplied by the test. Both return a
:class:`RunResult` that never fails silently: :meth:`RunResult.assert_success`
raises :class:`~windvane.testing.errors.RunFailedError` with the failing
task's error and log. They are the ``run_dag`` and ``run_task`` fixtures of
:mod:`windvane.testing.plugin_extras`.

Each task's log text is what it logged (any logger, INFO and up) and printed
while it ran. Variables and connections come from the
:class:`~windvane.testing.sandbox.WindvaneEnv` given (if any) with the
per-call ``variables``/``connections`` over them.
"""

from __future__ import annotations

import contextlib
import io
import logging
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pendulum

from windvane.core.authoring.baseoperator import BaseOperator
from windvane.core.authoring.dag import DAG
from windvane.core.model import json_values
from windvane.core.model.states import WAITING_STATES, DagRunState
from windvane.core.model.states import TaskInstanceState as S
from windvane.core.task_api.task_instance import XCOM_RETURN_KEY
from windvane.core.worker.execution import run_try
from windvane.core.worker.in_process import (
    MemoryXComs,
    Reschedules,
    TaskResult,
    manual_run,
    run_dag_in_process,
    task_context,
)
from windvane.core.worker.inputs import jinja_env_for
from windvane.errors import NotFoundError
from windvane.testing.errors import RunFailedError
from windvane.testing.sandbox import WindvaneEnv

#: Lines of a failing task's log quoted by :meth:`RunResult.assert_success`.
LOG_TAIL_LINES = 40
_OK = (S.SUCCESS, S.SKIPPED)


@dataclass(frozen=True)
class TaskOutcome:
    """How one task ended: state, tries, error (the user's traceback), XComs pushed, log text."""

    task_id: str
    state: S
    tries: int = 0
    error: str | None = None
    xcoms: Mapping[str, Any] = field(default_factory=dict)
    xcom_texts: Mapping[str, str] = field(default_factory=dict, repr=False)
    log: str = field(default="", repr=False)
    duration: float = 0.0

    @property
    def return_value(self) -> Any:
        """The XCom ``return_value`` (deserialized), or None."""
        return self.xcoms.get(XCOM_RETURN_KEY)


@dataclass(frozen=True)
class RunResult:
    """What one :func:`run_dag` / :func:`run_one_task` call did."""

    dag_id: str
    run_id: str
    logical_date: pendulum.DateTime
    state: DagRunState
    tasks: Mapping[str, TaskOutcome]

    @property
    def states(self) -> dict[str, S]:
        """``task_id -> final state``."""
        return {task_id: t.state for task_id, t in self.tasks.items()}

    @property
    def succeeded(self) -> bool:
        return self.state is DagRunState.SUCCESS

    def xcom(self, task_id: str, key: str = XCOM_RETURN_KEY) -> Any:
        """The value ``task_id`` pushed under ``key`` (deserialized), or None."""
        return self._task(task_id).xcoms.get(key)

    def log(self, task_id: str) -> str:
        return self._task(task_id).log

    def assert_success(self) -> RunResult:
        """Return self if the run succeeded; else raise :class:`RunFailedError` naming each task that
        did not succeed or skip, with its error and the tail of its log."""
        if self.succeeded:
            return self
        parts = [f"run {self.run_id} of DAG {self.dag_id!r} ended {self.state.value}"]
        for outcome in self.tasks.values():
            if outcome.state in _OK:
                continue
            tries = (
                f" after {outcome.tries} tr{'y' if outcome.tries == 1 else 'ies'}" if outcome.tries else ""
            )
            parts.append(f"task {outcome.task_id!r}: {outcome.state.value}{tries}")
            if outcome.error:
                parts.append(_indent(outcome.error.rstrip()))
            if outcome.tries and outcome.log.strip():
                tail = outcome.log.rstrip().splitlines()[-LOG_TAIL_LINES:]
                parts.append(_indent("--- log (last lines) ---\n" + "\n".join(tail)))
        raise RunFailedError("\n".join(parts))

    def _task(self, task_id: str) -> TaskOutcome:
        try:
            return self.tasks[task_id]
        except KeyError:
            known = ", ".join(sorted(self.tasks)) or "none"
            raise NotFoundError(
                f"task {task_id!r} is not in this run of DAG {self.dag_id!r} (its tasks: {known})"
            ) from None


def run_dag(
    dag: DAG,
    logical_date: pendulum.DateTime | None = None,
    *,
    conf: Mapping[str, Any] | None = None,
    variables: Mapping[str, object] | None = None,
    connections: Mapping[str, Mapping[str, Any]] | None = None,
    env: WindvaneEnv | None = None,
) -> RunResult:
    """Run every task of one manual run of ``dag`` at ``logical_date`` (default now) in this process."""
    logical = _logical(logical_date)
    env = env or _bare_env()
    logs = _LogCapture()
    with _in_env(env, variables, connections), logs.capturing(), _templates_restored(dag.tasks):
        result = run_dag_in_process(
            dag,
            logical_date=logical,
            conf=dict(conf or {}),
            on_task_done=lambda r: logs.close_task(r.task_id),
            var_getter=env.var_getter(variables),
            conn_getter=env.conn_getter(connections),
        )
    tasks = {t: _outcome(r, result.xcoms, logs.text(t)) for t, r in result.tasks.items()}
    return RunResult(dag.dag_id, result.run_id, logical, result.state, tasks)


def run_one_task(
    dag: DAG,
    task_id: str,
    logical_date: pendulum.DateTime | None = None,
    *,
    upstream: Mapping[str, object] | None = None,
    conf: Mapping[str, Any] | None = None,
    variables: Mapping[str, object] | None = None,
    connections: Mapping[str, Mapping[str, Any]] | None = None,
    env: WindvaneEnv | None = None,
    xcoms: MemoryXComs | None = None,
) -> RunResult:
    """Run ``task_id`` of ``dag`` alone (its tries, retries at once) in a manual run at ``logical_date``.

    ``upstream`` maps a task id to the ``return_value`` it is taken to have
    pushed (``xcoms`` gives full control instead); trigger rules are not
    checked. The result's state is the task's: ``success`` (or ``skipped``)
    or ``failed``.
    """
    task = dag.get_task(task_id)
    logical = _logical(logical_date)
    env = env or _bare_env()
    store = xcoms if xcoms is not None else MemoryXComs()
    for up_id, value in (upstream or {}).items():
        store.store(up_id, {XCOM_RETURN_KEY: json_values.serialize(value)})
    run = manual_run(dag, logical_date=logical, conf=dict(conf or {}))
    res = TaskResult(task_id, S.UP_FOR_RETRY)
    logs = _LogCapture()
    with _in_env(env, variables, connections), logs.capturing(), _templates_restored([task]):
        waits = Reschedules()
        while res.state in WAITING_STATES:
            res.tries += res.state is S.UP_FOR_RETRY
            context = task_context(
                task,
                run,
                store,
                try_number=res.tries,
                var_getter=env.var_getter(variables),
                conn_getter=env.conn_getter(connections),
            )
            started_at, started = waits.prepare(context), time.perf_counter()
            outcome = run_try(task, context, jinja_env=jinja_env_for(dag))
            res.duration += time.perf_counter() - started
            res.state, res.error = outcome.state, outcome.error
            store.store(task_id, outcome.xcoms)
            if waits.again(outcome, started_at):
                res.state = S.UP_FOR_RESCHEDULE
        logs.close_task(task_id)
    state = DagRunState.SUCCESS if res.state in _OK else DagRunState.FAILED
    return RunResult(
        dag.dag_id, run.run_id, logical, state, {task_id: _outcome(res, store, logs.text(task_id))}
    )


# -- helpers ------------------------------------------------------------------------------------


def _bare_env() -> WindvaneEnv:
    """No sandbox: variables and connections of the call only, ``os.environ`` left alone."""
    return WindvaneEnv(home=Path(), db_url="")


def _logical(logical_date: pendulum.DateTime | None) -> pendulum.DateTime:
    return (logical_date or pendulum.now("UTC")).in_timezone("UTC")


@contextlib.contextmanager
def _in_env(
    env: WindvaneEnv,
    variables: Mapping[str, object] | None,
    connections: Mapping[str, Mapping[str, Any]] | None,
) -> Iterator[None]:
    if not env.db_url:  # no sandbox: nothing to point the environment at
        yield
        return
    with env.activated(variables, connections):
        yield


@contextlib.contextmanager
def _templates_restored(tasks: list[BaseOperator]) -> Iterator[None]:
    """Rendering writes the rendered values onto the task; put the templates back afterwards, so the
    next run renders them again (a worker renders in a throwaway child; here the DAG object lives on)."""
    saved = [(task, name, getattr(task, name)) for task in tasks for name in task.template_fields]
    try:
        yield
    finally:
        for task, name, value in saved:
            setattr(task, name, value)


def _outcome(res: TaskResult, xcoms: MemoryXComs, log: str) -> TaskOutcome:
    texts = {key: text for (task_id, key), text in xcoms.values.items() if task_id == res.task_id}
    values = {key: json_values.deserialize(text) for key, text in texts.items()}
    return TaskOutcome(res.task_id, res.state, res.tries, res.error, values, texts, log, res.duration)


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.splitlines())


class _LogCapture(logging.Handler):
    """Log records (INFO and up, any logger) and printed text, cut per task as each one ends
    (tasks run one at a time, so what came since the last task ended belongs to this one)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.setFormatter(logging.Formatter("[%(levelname)s] %(name)s: %(message)s"))
        self._buffer = io.StringIO()
        self._texts: dict[str, str] = {}

    def emit(self, record: logging.LogRecord) -> None:
        self._buffer.write(self.format(record) + "\n")

    def close_task(self, task_id: str) -> None:
        self._texts[task_id] = self._texts.get(task_id, "") + self._buffer.getvalue()
        self._buffer.seek(0)
        self._buffer.truncate()

    def text(self, task_id: str) -> str:
        return self._texts.get(task_id, "")

    @contextlib.contextmanager
    def capturing(self) -> Iterator[None]:
        root = logging.getLogger()
        level = root.level
        root.addHandler(self)
        root.setLevel(min(level, logging.INFO) if level else logging.INFO)
        try:
            with contextlib.redirect_stdout(self._buffer), contextlib.redirect_stderr(self._buffer):
                yield
        finally:
            root.removeHandler(self)
            root.setLevel(level)


__all__ = ["RunResult", "TaskOutcome", "run_dag", "run_one_task"]
