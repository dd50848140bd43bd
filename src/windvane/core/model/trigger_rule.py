"""Trigger rules and the pure decision function every runner uses.

:func:`decide` answers, for one task instance that has not started, what its
upstream states allow: wait, run, or finish it at once as *skipped* or
*upstream_failed*. It follows Airflow 2's ``TriggerRuleDep`` (with
``flag_upstream_failed=True``), so skips and failures propagate the same way.
The scheduler, ``dags test`` and the tests all call this one function.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum

from windvane.core.model.states import TaskInstanceState as S
from windvane.errors import UnknownTriggerRuleError


class TriggerRule(StrEnum):
    ALL_SUCCESS = "all_success"
    ALL_FAILED = "all_failed"
    ALL_DONE = "all_done"
    ALL_SKIPPED = "all_skipped"
    ONE_SUCCESS = "one_success"
    ONE_FAILED = "one_failed"
    ONE_DONE = "one_done"
    NONE_FAILED = "none_failed"
    NONE_FAILED_MIN_ONE_SUCCESS = "none_failed_min_one_success"
    NONE_SKIPPED = "none_skipped"
    ALWAYS = "always"

    @classmethod
    def coerce(cls, value: object, *, owner: str = "task") -> TriggerRule:
        """Accept a TriggerRule or its string value; anything else names the culprit."""
        if isinstance(value, TriggerRule):
            return value
        if isinstance(value, str):
            try:
                return cls(value)
            except ValueError:
                pass
        allowed = ", ".join(r.value for r in cls)
        raise UnknownTriggerRuleError(
            f"{owner} has unknown trigger_rule {value!r}; expected one of: {allowed}"
        )


class Decision(StrEnum):
    """What :func:`decide` allows for a task instance that has not started."""

    WAIT = "wait"
    RUN = "run"
    SKIP = "skip"
    UPSTREAM_FAILED = "upstream_failed"

    def as_state(self) -> S | None:
        """The finished state this decision puts the task in, if any."""
        if self is Decision.SKIP:
            return S.SKIPPED
        if self is Decision.UPSTREAM_FAILED:
            return S.UPSTREAM_FAILED
        return None


@dataclass(slots=True)
class UpstreamCounts:
    """How many direct upstream task instances are in each finished state."""

    total: int
    success: int = 0
    skipped: int = 0
    failed: int = 0
    upstream_failed: int = 0
    removed: int = 0

    @property
    def done(self) -> int:
        return self.success + self.skipped + self.failed + self.upstream_failed + self.removed

    def add(self, state: S, delta: int = 1) -> None:
        """Count (or with ``delta=-1`` un-count) one upstream in ``state``; unfinished states are ignored."""
        if state is S.SUCCESS:
            self.success += delta
        elif state is S.SKIPPED:
            self.skipped += delta
        elif state is S.FAILED:
            self.failed += delta
        elif state is S.UPSTREAM_FAILED:
            self.upstream_failed += delta
        elif state is S.REMOVED:
            self.removed += delta

    @classmethod
    def of(cls, states: Iterable[S]) -> UpstreamCounts:
        states = list(states)
        counts = cls(total=len(states))
        for state in states:
            counts.add(state)
        return counts


# -- the decision table -----------------------------------------------------------------------
# Facts about the direct upstreams, each a predicate on the counts. "Failed" counts
# upstream_failed too; "removed" upstreams count as successes where a rule needs them all.


def _any_failed(c: UpstreamCounts) -> bool:
    return c.failed + c.upstream_failed > 0


def _any_skipped(c: UpstreamCounts) -> bool:
    return c.skipped > 0


def _any_succeeded(c: UpstreamCounts) -> bool:
    return c.success > 0


def _any_succeeded_or_skipped(c: UpstreamCounts) -> bool:
    return c.success + c.skipped > 0


def _any_succeeded_or_failed(c: UpstreamCounts) -> bool:
    return c.success + c.failed + c.upstream_failed > 0


def _any_succeeded_or_itself_failed(c: UpstreamCounts) -> bool:
    """A success or a failure of the upstream's own (upstream_failed does not count)."""
    return c.success + c.failed > 0


def _all_done(c: UpstreamCounts) -> bool:
    return c.done >= c.total


def _not_all_done(c: UpstreamCounts) -> bool:
    return c.done < c.total


def _all_succeeded(c: UpstreamCounts) -> bool:
    return c.success + c.removed >= c.total


def _all_done_none_succeeded_or_failed(c: UpstreamCounts) -> bool:
    return c.done >= c.total and c.skipped + c.removed == c.done


_Row = tuple[Callable[[UpstreamCounts], bool], Decision]
_RUN, _WAIT, _SKIP, _UPSTREAM_FAILED = Decision.RUN, Decision.WAIT, Decision.SKIP, Decision.UPSTREAM_FAILED

#: For each rule (ALWAYS aside): rows ``(fact, decision)``, the first whose fact holds decides;
#: if none does, the rule's last word.
DECISION_TABLE: dict[TriggerRule, tuple[tuple[_Row, ...], Decision]] = {
    TriggerRule.ALL_SUCCESS: (
        ((_any_failed, _UPSTREAM_FAILED), (_any_skipped, _SKIP), (_all_succeeded, _RUN)),
        _WAIT,
    ),
    TriggerRule.ALL_FAILED: (((_any_succeeded_or_skipped, _SKIP), (_all_done, _RUN)), _WAIT),
    TriggerRule.ALL_DONE: (((_all_done, _RUN),), _WAIT),
    TriggerRule.ALL_SKIPPED: (((_any_succeeded_or_failed, _SKIP), (_all_done, _RUN)), _WAIT),
    TriggerRule.ONE_SUCCESS: (
        (
            (_any_succeeded, _RUN),
            (_all_done_none_succeeded_or_failed, _SKIP),
            (_all_done, _UPSTREAM_FAILED),
        ),
        _WAIT,
    ),
    TriggerRule.ONE_FAILED: (((_any_failed, _RUN), (_all_done, _SKIP)), _WAIT),
    TriggerRule.ONE_DONE: (((_any_succeeded_or_itself_failed, _RUN), (_all_done, _SKIP)), _WAIT),
    TriggerRule.NONE_FAILED: (((_any_failed, _UPSTREAM_FAILED), (_all_done, _RUN)), _WAIT),
    TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS: (
        ((_any_failed, _UPSTREAM_FAILED), (_not_all_done, _WAIT), (_any_succeeded, _RUN)),
        _SKIP,
    ),
    TriggerRule.NONE_SKIPPED: (((_any_skipped, _SKIP), (_all_done, _RUN)), _WAIT),
}


def decide(rule: TriggerRule, c: UpstreamCounts) -> Decision:
    """The next step for a not-yet-started task whose direct upstreams are counted in ``c``
    (a task without upstreams, or with rule ``always``, runs; else :data:`DECISION_TABLE`)."""
    if c.total == 0 or rule is TriggerRule.ALWAYS:
        return Decision.RUN
    rows, otherwise = DECISION_TABLE[rule]
    for fact, decision in rows:
        if fact(c):
            return decision
    return otherwise
