"""One console line per outcome: the scheduler's finished runs and failed tries, on its log.

:class:`OutcomeLog` is a scheduler observer that ``windvane scheduler`` and
``windvane standalone`` install, so their console says how runs end:

* a finished run: DAG, run id, state and duration (INFO when it succeeded,
  WARNING when it failed);
* a failed or retried try, a zombie or a lost try: task, run, try n/m, the
  error's last line and the path of the try's log (WARNING).

At most ``max_lines`` lines are written per scheduler pass; the rest of a big
fan-out's outcomes are counted and summed up in one line at the end of the pass
("... and K more"), so a thousand failing tasks do not drown the console.
"""

from __future__ import annotations

import logging
import os
from collections import Counter

from windvane.cli.output import error_summary
from windvane.core.model.events import RunFinished, TryFinished, TryLost, TryZombie
from windvane.core.model.states import DagRunState
from windvane.core.model.states import TaskInstanceState as S
from windvane.core.model.workload import TaskInstanceKey
from windvane.core.scheduler.observer import LoopStats, SchedulerObserver

log = logging.getLogger("windvane.outcomes")

#: Default most outcome lines per scheduler pass.
MAX_LINES_PER_PASS = 20


class OutcomeLog(SchedulerObserver):
    """Logs each finished run and each failed/retried try, at most ``max_lines`` per pass."""

    def __init__(self, log_folder: str, *, max_lines: int = MAX_LINES_PER_PASS) -> None:
        self.log_folder = log_folder
        self.max_lines = max_lines
        self._written = 0
        self._held_back: Counter[str] = Counter()

    # -- hooks -------------------------------------------------------------------
    def run_finished(self, event: RunFinished) -> None:
        failed = event.state is not DagRunState.SUCCESS
        why = " (dagrun_timeout)" if event.timed_out else ""
        text = f"Run {event.run_id} of DAG {event.dag_id}: {event.state.value}{why}"
        self._emit(
            logging.WARNING if failed else logging.INFO,
            "failed runs" if failed else "finished runs",
            f"{text} in {_duration(event.duration)}",
        )

    def try_finished(self, event: TryFinished) -> None:
        if event.state is S.UP_FOR_RETRY:
            when = f" at {event.next_retry_at:%H:%M:%S}" if event.next_retry_at is not None else ""
            outcome = f"failed, will retry{when}"
        elif event.state is S.FAILED:
            outcome = "failed"
        else:
            return
        self._try_line(event.key, event.try_number, event.max_tries, outcome, event.error)

    def try_zombie(self, event: TryZombie) -> None:
        outcome = "stopped heartbeating (zombie), " + (
            "will retry" if event.state is S.UP_FOR_RETRY else event.state.value
        )
        self._try_line(event.key, event.try_number, event.max_tries, outcome, event.error)

    def try_lost(self, event: TryLost) -> None:
        self._try_line(event.key, event.try_number, event.max_tries, "lost", event.error)

    def loop_finished(self, stats: LoopStats) -> None:
        if self._held_back:
            total = sum(self._held_back.values())
            kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(self._held_back.items()))
            log.warning(
                "... and %d more outcome(s) in this pass (%s); see 'windvane dags list-runs <dag>'",
                total,
                kinds,
            )
        self._written = 0
        self._held_back.clear()

    # -- lines -------------------------------------------------------------------
    def _try_line(
        self, key: TaskInstanceKey, try_number: int, max_tries: int, outcome: str, error: str | None
    ) -> None:
        text = (
            f"Task {key.task_id}{_mapped(key)} of DAG {key.dag_id}, run {key.run_id}, "
            f"try {try_number}/{max_tries + 1}: {outcome}"
        )
        if error:
            text += f": {error_summary(error)}"
        text += f" (log: {self.log_path(key, try_number)})"
        self._emit(logging.WARNING, "failed tries", text)

    def log_path(self, key: TaskInstanceKey, try_number: int) -> str:
        """Where the worker writes this try's log (see :func:`windvane.core.worker.runner.log_path_for`)."""
        parts = [f"dag_id={key.dag_id}", f"run_id={key.run_id}", f"task_id={key.task_id}"]
        if key.map_index >= 0:
            parts.append(f"map_index={key.map_index}")
        return os.path.join(self.log_folder, *parts, f"attempt={try_number}.log")

    def _emit(self, level: int, kind: str, text: str) -> None:
        if self._written >= self.max_lines:
            self._held_back[kind] += 1
            return
        self._written += 1
        log.log(level, "%s", text)


def _mapped(key: TaskInstanceKey) -> str:
    return f"[{key.map_index}]" if key.map_index >= 0 else ""


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"
