"""The incremental readiness tracker: cascades, run states, and equivalence with a full recompute."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from windvane.core.model.run_tracker import RunTracker, descendants
from windvane.core.model.states import DagRunState
from windvane.core.model.states import TaskInstanceState as S
from windvane.core.model.trigger_rule import TriggerRule as R


def tracker(edges: list[tuple[str, str]], tasks: list[str], rules: dict[str, R] | None = None) -> RunTracker:
    upstream: dict[str, list[str]] = {t: [] for t in tasks}
    for a, b in edges:
        upstream[b].append(a)
    return RunTracker(upstream, {t: (rules or {}).get(t, R.ALL_SUCCESS) for t in tasks})


def test_roots_are_scheduled_first_and_downstream_follows_success() -> None:
    t = tracker([("a", "b"), ("b", "c")], ["a", "b", "c"])
    assert t.evaluate() == {"a": S.SCHEDULED}
    assert t.set_state("a", S.SUCCESS) == {"b": S.SCHEDULED}
    assert t.set_state("b", S.SUCCESS) == {"c": S.SCHEDULED}
    assert t.run_state() is None
    t.set_state("c", S.SUCCESS)
    assert t.run_state() is DagRunState.SUCCESS


def test_failure_cascades_upstream_failed_down_the_chain_in_one_call() -> None:
    t = tracker([("a", "b"), ("b", "c"), ("c", "d")], ["a", "b", "c", "d"])
    t.evaluate()
    assert t.set_state("a", S.FAILED) == {
        "b": S.UPSTREAM_FAILED,
        "c": S.UPSTREAM_FAILED,
        "d": S.UPSTREAM_FAILED,
    }
    assert t.run_state() is DagRunState.FAILED


def test_cleanup_task_with_all_done_runs_after_failure_and_run_state_follows_leaves() -> None:
    t = tracker([("a", "cleanup")], ["a", "cleanup"], {"cleanup": R.ALL_DONE})
    t.evaluate()
    assert t.set_state("a", S.FAILED) == {"cleanup": S.SCHEDULED}
    t.set_state("cleanup", S.SUCCESS)
    # The only leaf succeeded, so the run succeeds even though a task failed (Airflow's rule).
    assert t.run_state() is DagRunState.SUCCESS


def test_branch_skip_propagates_to_all_success_but_join_with_none_failed_min_one_success_runs() -> None:
    tasks = ["branch", "left", "right", "left2", "join"]
    edges = [("branch", "left"), ("branch", "right"), ("left", "left2"), ("left2", "join"), ("right", "join")]
    t = tracker(edges, tasks, {"join": R.NONE_FAILED_MIN_ONE_SUCCESS})
    t.evaluate()
    t.set_state("branch", S.SUCCESS)
    # The branch chose "right": the runner skips "left".
    assert t.set_state("left", S.SKIPPED) == {"left2": S.SKIPPED}
    assert t.set_state("right", S.SUCCESS) == {"join": S.SCHEDULED}


def test_skip_cascades_through_all_success_join() -> None:
    t = tracker([("a", "j"), ("b", "j")], ["a", "b", "j"])
    t.evaluate()
    t.set_state("a", S.SKIPPED)
    assert t.state("j") is S.SKIPPED
    t.set_state("b", S.SUCCESS)
    assert t.run_state() is DagRunState.SUCCESS


def test_counts_follow_a_cleared_upstream() -> None:
    t = tracker([("a", "b")], ["a", "b"])
    t.evaluate()
    t.set_state("a", S.SUCCESS)
    t.set_state("a", S.NONE)  # cleared
    assert t.counts("b").success == 0
    assert not t.all_finished


def test_descendants_is_recursive_and_excludes_roots() -> None:
    down = {"a": ["b", "c"], "b": ["d"], "c": ["d"], "d": []}
    assert descendants(down, ["a"]) == ["b", "c", "d"]


@st.composite
def dags_and_outcomes(draw: st.DrawFn) -> tuple[dict[str, list[str]], dict[str, R], list[S]]:
    n = draw(st.integers(min_value=1, max_value=9))
    tasks = [f"t{i}" for i in range(n)]
    upstream: dict[str, list[str]] = {t: [] for t in tasks}
    for j in range(1, n):
        upstream[tasks[j]] = draw(st.lists(st.sampled_from(tasks[:j]), unique=True, max_size=3))
    rules = {t: draw(st.sampled_from(list(R))) for t in tasks}
    outcomes = draw(st.lists(st.sampled_from([S.SUCCESS, S.FAILED, S.SKIPPED]), min_size=n, max_size=n))
    return upstream, rules, outcomes


@settings(max_examples=300)
@given(dags_and_outcomes())
def test_incremental_tracking_matches_a_full_recompute(
    data: tuple[dict[str, list[str]], dict[str, R], list[S]],
) -> None:
    upstream, rules, outcomes = data
    live = RunTracker(upstream, rules)
    live.evaluate()
    # Run every scheduled task to its outcome until nothing is left to run.
    for _ in range(len(upstream) + 1):
        scheduled = [t for t, s in live.states.items() if s is S.SCHEDULED]
        if not scheduled:
            break
        for task in scheduled:
            live.set_state(task, outcomes[int(task[1:])])
    assert live.all_finished, live.states
    # A tracker built from scratch over the finished states agrees on the run state,
    # and deciding again changes nothing.
    fresh = RunTracker(upstream, rules, dict(live.states))
    assert fresh.evaluate() == {}
    assert fresh.run_state() is live.run_state()
