"""Trigger rules and the pure decision function every runner uses.

:func:`decide` answers, for one task instance that has not started, what its
upstream states allow: wait, run, or finish it at once as *skipped* or
*upstream_failed*. It follows Airflow 2's ``TriggerRuleDep`` (with
``flag_upstream_failed=True``), so skips and failures propagate the same way.
The scheduler, ``dags test`` and the tests all call this one function.
"""

from __future__ import annotations

from collections.abc import Iterable
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


def decide(rule: TriggerRule, c: UpstreamCounts) -> Decision:
    """The next step for a not-yet-started task whose direct upstreams are counted in ``c``."""
    if c.total == 0 or rule is TriggerRule.ALWAYS:
        return Decision.RUN
    all_done = c.done >= c.total
    failures = c.failed + c.upstream_failed
    R = TriggerRule
    if rule is R.ALL_SUCCESS:
        if failures:
            return Decision.UPSTREAM_FAILED
        if c.skipped:
            return Decision.SKIP
        return Decision.RUN if c.success + c.removed >= c.total else Decision.WAIT
    if rule is R.ALL_FAILED:
        if c.success or c.skipped:
            return Decision.SKIP
        return Decision.RUN if all_done else Decision.WAIT
    if rule is R.ALL_DONE:
        return Decision.RUN if all_done else Decision.WAIT
    if rule is R.ALL_SKIPPED:
        if c.success or failures:
            return Decision.SKIP
        return Decision.RUN if all_done else Decision.WAIT
    if rule is R.ONE_SUCCESS:
        if c.success:
            return Decision.RUN
        if all_done:
            return Decision.SKIP if c.skipped + c.removed == c.done else Decision.UPSTREAM_FAILED
        return Decision.WAIT
    if rule is R.ONE_FAILED:
        if failures:
            return Decision.RUN
        return Decision.SKIP if all_done else Decision.WAIT
    if rule is R.ONE_DONE:
        if c.success or c.failed:
            return Decision.RUN
        return Decision.SKIP if all_done else Decision.WAIT
    if rule is R.NONE_FAILED:
        if failures:
            return Decision.UPSTREAM_FAILED
        return Decision.RUN if all_done else Decision.WAIT
    if rule is R.NONE_FAILED_MIN_ONE_SUCCESS:
        if failures:
            return Decision.UPSTREAM_FAILED
        if not all_done:
            return Decision.WAIT
        return Decision.RUN if c.success else Decision.SKIP
    if rule is R.NONE_SKIPPED:
        if c.skipped:
            return Decision.SKIP
        return Decision.RUN if all_done else Decision.WAIT
    raise AssertionError(f"unhandled trigger rule {rule!r}")  # pragma: no cover
