"""The first next run of parsed DAGs, computed once per schedule: :class:`FirstRuns`.

Before a batch is written the processor checks each DAG's timetable summary and first
next run (as if it never ran), so that one DAG's arithmetic fails only its own file
(:func:`~windvane.core.processor.store_writer.first_run_or_problem`). That is croniter's work:
building a cron table and six ``get_next``/``get_prev`` for a ``catchup=False`` DAG, about 6 ms,
the largest cost of the processor in a cold parse. Most DAGs share a handful of schedules, so
:class:`FirstRuns` keeps

* one timetable object per serialized built-in timetable (``cron``, ``delta``, ``once``,
  ``null``: immutable values; a plug-in's timetable class is built per DAG as before), and
* one answer per (timetable, start_date, end_date, catchup) at a given ``now``: the caller passes
  the same ``now`` for a whole batch, and the answers are dropped when ``now`` changes.

A failure is kept as the exception's text and worded per DAG, naming it and its file.
"""

from __future__ import annotations

import json
from typing import Any

from pendulum import DateTime

from windvane.core.model.serialized_dag import NextRun, SerializedDag
from windvane.core.timetables.base import Timetable
from windvane.core.timetables.serialization import timetable_from_dict

#: Timetables built from these ``__type`` names are plain values and may be shared.
SHAREABLE = frozenset({"cron", "delta", "once", "null"})
#: Distinct timetables kept at most (the table is emptied when full: schedules are few).
MAX_TIMETABLES = 1024


class FirstRuns:
    """First next runs and timetables of parsed DAGs, shared between DAGs of equal schedule."""

    def __init__(self) -> None:
        self._timetables: dict[str, Timetable] = {}
        self._now: DateTime | None = None
        self._answers: dict[tuple[str, str | None, str | None, bool], NextRun | str] = {}

    def check(self, sd: SerializedDag, now: DateTime) -> NextRun | str:
        """``sd``'s first next run at ``now``, or why it cannot be stored (its timetable
        summary or first run cannot be computed), naming the DAG and its file."""
        key_text = _shareable_key(sd.timetable)
        if key_text is None:  # a plug-in's timetable: built and computed for this DAG alone
            return worded(sd, compute_first_run(sd, now))
        if now != self._now:
            self._now = now
            self._answers.clear()
        key = (key_text, sd.start_date, sd.end_date, sd.catchup)
        answer = self._answers.get(key)
        if answer is None:
            answer = self._answers[key] = self._compute_shared(sd, key_text, now)
        else:
            self._adopt(sd, key_text)
        return worded(sd, answer)

    def _compute_shared(self, sd: SerializedDag, key_text: str, now: DateTime) -> NextRun | str:
        self._adopt(sd, key_text)
        return compute_first_run(sd, now)

    def _adopt(self, sd: SerializedDag, key_text: str) -> None:
        """Give ``sd`` the shared timetable object of its schedule (building it the first time)."""
        timetable = self._timetables.get(key_text)
        if timetable is None:
            try:
                timetable = timetable_from_dict(sd.timetable)
            except Exception:  # the DAG's own check reports it
                return
            if len(self._timetables) >= MAX_TIMETABLES:
                self._timetables.clear()
            self._timetables[key_text] = timetable
        sd.__dict__["timetable_obj"] = timetable  # fills the cached_property


def _shareable_key(timetable: Any) -> str | None:
    if not isinstance(timetable, dict) or timetable.get("__type") not in SHAREABLE:
        return None
    return json.dumps(timetable, sort_keys=True, separators=(",", ":"))


def compute_first_run(sd: SerializedDag, now: DateTime) -> NextRun | str:
    """The first run, or the failure as ``Type: message``."""
    try:
        _ = sd.timetable_obj.summary
        return sd.next_run(None, now)
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"


def worded(sd: SerializedDag, answer: NextRun | str) -> NextRun | str:
    if isinstance(answer, str):
        return (
            f"DAG {sd.dag_id!r} in {sd.fileloc}: its next run cannot be computed "
            f"({answer}); check schedule, start_date and end_date"
        )
    return answer
