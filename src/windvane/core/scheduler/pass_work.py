"""What one scheduler pass decided to write: collected by the book's transitions, committed together."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

from windvane.core.model.states import DagRunState
from windvane.core.model.states import TaskInstanceState as S
from windvane.core.scheduler.model import ActiveRun, TiRecord
from windvane.core.scheduler.observer import LoopStats


class GaveUp(NamedTuple):
    """A running try the scheduler failed (a zombie): its new state and, for a retry, when."""

    ti_id: int
    try_number: int
    state: str
    next_retry_at: datetime | None


@dataclass
class PassWork:
    """Writes collected during one pass, committed together.

    ``states``: scheduler-decided task-instance states by ti id; ``queued``: tries
    chosen to queue; ``finished_runs``: runs that reached a final state;
    ``gave_up``: zombies to fail (all with ``gave_up_reason``).
    """

    states: dict[int, S] = field(default_factory=dict)
    queued: list[tuple[ActiveRun, TiRecord]] = field(default_factory=list)
    finished_runs: list[tuple[ActiveRun, DagRunState]] = field(default_factory=list)
    gave_up: list[GaveUp] = field(default_factory=list)
    gave_up_reason: str = ""
    stats: LoopStats = field(default_factory=LoopStats)

    @property
    def busy(self) -> bool:
        """The pass did something (so the next one runs at once)."""
        return bool(self.states or self.queued or self.finished_runs or self.stats.events)

    @property
    def has_writes(self) -> bool:
        """There is something to commit."""
        return bool(
            self.states or self.queued or self.finished_runs or self.gave_up or self.stats.runs_created
        )
