"""Decision table for every trigger rule, exercised as a pure function."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from windvane.core.model.trigger_rule import DECISION_TABLE, Decision, TriggerRule, UpstreamCounts, decide
from windvane.errors import UnknownTriggerRuleError

R = TriggerRule
RUN, WAIT, SKIP, UF = Decision.RUN, Decision.WAIT, Decision.SKIP, Decision.UPSTREAM_FAILED


def c(total: int, *, ok: int = 0, skip: int = 0, fail: int = 0, uf: int = 0) -> UpstreamCounts:
    return UpstreamCounts(total=total, success=ok, skipped=skip, failed=fail, upstream_failed=uf)


TABLE = [
    # rule, counts of 2 upstreams, expected
    (R.ALL_SUCCESS, c(2, ok=2), RUN),
    (R.ALL_SUCCESS, c(2, ok=1), WAIT),
    (R.ALL_SUCCESS, c(2, ok=1, fail=1), UF),
    (R.ALL_SUCCESS, c(2, fail=1), UF),  # decided before the other upstream is done
    (R.ALL_SUCCESS, c(2, ok=1, uf=1), UF),
    (R.ALL_SUCCESS, c(2, ok=1, skip=1), SKIP),
    (R.ALL_SUCCESS, c(2, skip=1, fail=1), UF),  # failure beats skip
    (R.ALL_FAILED, c(2, fail=2), RUN),
    (R.ALL_FAILED, c(2, fail=1, uf=1), RUN),
    (R.ALL_FAILED, c(2, fail=1), WAIT),
    (R.ALL_FAILED, c(2, fail=1, ok=1), SKIP),
    (R.ALL_FAILED, c(2, skip=1), SKIP),
    (R.ALL_DONE, c(2, ok=1, fail=1), RUN),
    (R.ALL_DONE, c(2, skip=1, uf=1), RUN),
    (R.ALL_DONE, c(2, fail=1), WAIT),
    (R.ALL_SKIPPED, c(2, skip=2), RUN),
    (R.ALL_SKIPPED, c(2, skip=1), WAIT),
    (R.ALL_SKIPPED, c(2, skip=1, ok=1), SKIP),
    (R.ALL_SKIPPED, c(2, fail=1), SKIP),
    (R.ONE_SUCCESS, c(2, ok=1), RUN),  # does not wait for the rest
    (R.ONE_SUCCESS, c(2, fail=1), WAIT),
    (R.ONE_SUCCESS, c(2, fail=1, skip=1), UF),
    (R.ONE_SUCCESS, c(2, skip=2), SKIP),
    (R.ONE_FAILED, c(2, fail=1), RUN),
    (R.ONE_FAILED, c(2, uf=1), RUN),
    (R.ONE_FAILED, c(2, ok=1), WAIT),
    (R.ONE_FAILED, c(2, ok=1, skip=1), SKIP),
    (R.ONE_DONE, c(2, ok=1), RUN),
    (R.ONE_DONE, c(2, fail=1), RUN),
    (R.ONE_DONE, c(2, skip=1), WAIT),
    (R.ONE_DONE, c(2, skip=1, uf=1), SKIP),
    (R.NONE_FAILED, c(2, ok=1, skip=1), RUN),
    (R.NONE_FAILED, c(2, skip=2), RUN),
    (R.NONE_FAILED, c(2, ok=1), WAIT),
    (R.NONE_FAILED, c(2, fail=1), UF),
    (R.NONE_FAILED, c(2, uf=1), UF),
    (R.NONE_FAILED_MIN_ONE_SUCCESS, c(2, ok=1, skip=1), RUN),
    (R.NONE_FAILED_MIN_ONE_SUCCESS, c(2, skip=2), SKIP),
    (R.NONE_FAILED_MIN_ONE_SUCCESS, c(2, skip=1), WAIT),
    (R.NONE_FAILED_MIN_ONE_SUCCESS, c(2, fail=1), UF),
    (R.NONE_SKIPPED, c(2, ok=1, fail=1), RUN),
    (R.NONE_SKIPPED, c(2, skip=1), SKIP),
    (R.NONE_SKIPPED, c(2, ok=1), WAIT),
    (R.ALWAYS, c(2), RUN),
    (R.ALWAYS, c(2, fail=2), RUN),
]


@pytest.mark.parametrize(("rule", "counts", "expected"), TABLE, ids=lambda v: str(v))
def test_decision_table(rule: TriggerRule, counts: UpstreamCounts, expected: Decision) -> None:
    assert decide(rule, counts) is expected


@pytest.mark.parametrize("rule", list(R))
def test_a_task_without_upstreams_runs(rule: TriggerRule) -> None:
    assert decide(rule, UpstreamCounts(total=0)) is RUN


counts_strategy = st.integers(min_value=1, max_value=6).flatmap(
    lambda total: st.lists(
        st.sampled_from(["success", "skipped", "failed", "upstream_failed", "pending"]),
        min_size=total,
        max_size=total,
    )
)


def _count(states: list[str]) -> UpstreamCounts:
    counts = UpstreamCounts(total=len(states))
    for s in states:
        if s != "pending":
            setattr(counts, s, getattr(counts, s) + 1)
    return counts


@given(rule=st.sampled_from(list(R)), states=counts_strategy)
def test_once_every_upstream_is_done_the_decision_is_final(rule: TriggerRule, states: list[str]) -> None:
    finished = [s if s != "pending" else "success" for s in states]
    assert decide(rule, _count(finished)) is not WAIT


@given(rule=st.sampled_from(list(R)), states=counts_strategy)
def test_upstream_failed_needs_a_failure_upstream(rule: TriggerRule, states: list[str]) -> None:
    if decide(rule, _count(states)) is UF:
        assert "failed" in states or "upstream_failed" in states


@given(rule=st.sampled_from(list(R)), states=counts_strategy)
def test_only_one_and_always_rules_run_before_every_upstream_is_done(
    rule: TriggerRule, states: list[str]
) -> None:
    early_rules = {R.ONE_SUCCESS, R.ONE_FAILED, R.ONE_DONE, R.ALWAYS}
    if decide(rule, _count(states)) is RUN and rule not in early_rules:
        assert "pending" not in states


def test_rules_accept_strings_and_name_the_culprit() -> None:
    assert TriggerRule.coerce("one_success") is R.ONE_SUCCESS
    with pytest.raises(UnknownTriggerRuleError, match=r"task 'x' has unknown trigger_rule 'all_sucess'"):
        TriggerRule.coerce("all_sucess", owner="task 'x'")


def test_the_decision_table_covers_every_rule_but_always() -> None:
    assert set(DECISION_TABLE) == set(R) - {R.ALWAYS}
