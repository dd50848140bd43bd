"""Slot leases of several schedulers (``core/scheduler/lease_grant.py``): the claims of every
scheduler never sum above a limit, whatever order they re-balance and queue in."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from windvane.core.scheduler.lease_grant import Claim, fair_target, grant


def test_a_newcomer_gets_nothing_until_the_holder_has_given_slots_back() -> None:
    holder = Claim(lease=128, usage=128, demand=1000)
    assert grant(128, 1000, [holder]) == 0
    # The holder re-balances: its fair target is half, but its 128 tries in flight still count.
    shrunk = grant(128, 1000, [Claim(demand=1000)])
    assert shrunk == 64
    assert grant(128, 1000, [Claim(lease=shrunk, usage=128, demand=1000)]) == 0
    # Its tries finish: the newcomer gets the other half.
    assert grant(128, 1000, [Claim(lease=shrunk, usage=10, demand=1000)]) == 64


def test_fair_target_meets_small_demands_whole_and_shares_the_rest() -> None:
    assert fair_target(128, 1000, [10]) == 118
    assert fair_target(128, 5, [1000]) == 5
    assert fair_target(3, 10, [10]) == 2  # rounded up: the claims keep the sum at 3
    assert fair_target(128, 0, [10]) == 0
    assert fair_target(0, 10, []) == 0


def test_tries_nobody_leases_are_claims_too() -> None:
    backfill = Claim(usage=100)
    assert grant(128, 1000, [backfill]) == 28


# A step: which scheduler acts, and what happens first (its tries finish, its ready tries appear).
_step = st.tuples(st.integers(0, 3), st.integers(0, 20), st.integers(0, 40))


@settings(max_examples=300, deadline=None)
@given(
    limit=st.integers(0, 40),
    steps=st.lists(_step, min_size=1, max_size=60),
    foreign=st.integers(0, 45),
)
def test_claims_never_sum_above_the_limit(
    limit: int, steps: list[tuple[int, int, int]], foreign: int
) -> None:
    """Four schedulers take turns: one's tries finish, it learns of more ready tries, re-balances
    its lease and queues within it. Tries nobody leases (``foreign``, at most what the limit left)
    only finish. After every step, every holder's claim plus those tries fits in the limit."""
    n = 4
    lease, usage, ready = [0] * n, [0] * n, [0] * n
    outside = min(foreign, limit)
    for who, finished, more in steps:
        usage[who] -= min(usage[who], finished)
        outside -= min(outside, finished // 2)
        ready[who] += more
        others = [Claim(lease[j], usage[j], usage[j] + ready[j]) for j in range(n) if j != who]
        others.append(Claim(usage=outside))
        lease[who] = grant(limit, min(limit, usage[who] + ready[who]), others)
        assert 0 <= lease[who] <= limit
        queue = max(0, min(ready[who], lease[who] - usage[who]))
        usage[who] += queue
        ready[who] -= queue
        assert sum(max(lease[j], usage[j]) for j in range(n)) + outside <= max(limit, outside), (
            lease,
            usage,
        )
        assert sum(usage) + outside <= max(limit, outside)
