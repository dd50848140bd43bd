"""The ready queue hands out each ready task instance once, in priority order, and never a discarded one."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from windvane.core.scheduler.queueing import Occupancy, ReadyItem, ReadyQueue


def _item(ti_id: int, weight: int, pool: str) -> ReadyItem:
    return ReadyItem((-weight, 0.0, 0, ti_id), ti_id, "dag", f"t{ti_id}", pool, 1, None)


#: (what, ti id or slots to select, priority weight, pool)
Op = tuple[str, int, int, str]
_ops = st.lists(
    st.tuples(
        st.sampled_from(["push", "push", "discard", "select"]),
        st.integers(0, 9),
        st.integers(1, 5),
        st.sampled_from(["p", "q"]),
    ),
    max_size=60,
)


@given(_ops)
def test_select_returns_the_best_live_entries_once(ops: list[Op]) -> None:
    queue = ReadyQueue()
    live: dict[int, ReadyItem] = {}
    for what, number, weight, pool in ops:
        if what == "push":
            item = _item(number, weight, pool)
            queue.push(item)
            live[item.ti_id] = item
        elif what == "discard":
            queue.discard(number)
            live.pop(number, None)
        else:
            selection = queue.select(
                open_slots=number,
                pool_capacity=lambda _pool: 1000,
                dag_limit=lambda _dag: 1000,
                occupancy=Occupancy(),
            )
            expected = sorted(live.values(), key=lambda i: i.sort_key)[:number]
            assert [i.ti_id for i in selection.chosen] == [i.ti_id for i in expected]
            assert all(i is live[i.ti_id] for i in selection.chosen), "only the latest entry of a TI"
            for i in selection.chosen:
                del live[i.ti_id]
        assert len(queue) >= len(live)
