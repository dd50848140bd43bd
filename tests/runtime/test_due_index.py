"""The scheduler's due index: which DAGs' next scheduled run may be created, without scanning them all."""

from __future__ import annotations

import pendulum

from windvane.core.authoring.dag import DAG
from windvane.core.authoring.operators.empty import EmptyOperator
from windvane.core.authoring.serialize import serialize_dag
from windvane.core.model.serialized_dag import SerializedDag
from windvane.core.scheduler.due_index import DueIndex
from windvane.core.scheduler.model import DagEntry

T0 = pendulum.datetime(2024, 1, 1, tz="UTC")


def _dag() -> SerializedDag:
    with DAG("d", schedule="@daily", start_date=T0) as authored:
        EmptyOperator(task_id="t")
    return serialize_dag(authored)


DAG_SPEC = _dag()


def entry(dag_id: str, minutes: int | None, *, paused: bool = False, active: bool = True) -> DagEntry:
    at = None if minutes is None else T0.add(minutes=minutes)
    return DagEntry(dag_id, "h", paused, active, DAG_SPEC, at, at, at, at)


def due_ids(index: DueIndex, dags: dict[str, DagEntry], minutes: int) -> list[str]:
    return [e.dag_id for e in index.due(T0.add(minutes=minutes).timestamp(), dags)]


def test_only_due_dags_come_out_longest_due_first_and_stay_due_until_they_move() -> None:
    made = (entry("late", 5), entry("early", 1), entry("later", 60), entry("none", None))
    dags = {e.dag_id: e for e in made}
    index = DueIndex()
    index.rebuild(dags.values())
    assert due_ids(index, dags, 10) == ["early", "late"]
    assert due_ids(index, dags, 10) == ["early", "late"]  # not created (max_active_runs): due again
    dags["early"].next_create_after = T0.add(minutes=30)  # its run was created: the next is later
    index.put(dags["early"])
    assert due_ids(index, dags, 10) == ["late"]
    assert due_ids(index, dags, 45) == ["late", "early"]
    assert len(index) == 3


def test_paused_inactive_removed_and_changed_dags_are_not_due() -> None:
    dags = {e.dag_id: e for e in (entry("a", 1), entry("b", 2), entry("c", 3), entry("d", 4))}
    index = DueIndex()
    for e in dags.values():
        index.put(e)
    dags["a"] = entry("a", 1, paused=True)
    index.put(dags["a"])
    dags["b"] = entry("b", 2, active=False)
    index.put(dags["b"])
    del dags["c"]  # quarantined: popped from the book without telling the index
    dags["d"].next_create_after = T0.add(minutes=50)  # changed without telling the index
    assert due_ids(index, dags, 10) == []
    index.put(dags["d"])
    assert due_ids(index, dags, 60) == ["d"]
    index.discard("d")
    assert due_ids(index, dags, 60) == []


def test_the_heap_stays_bounded_when_the_same_dags_move_again_and_again() -> None:
    dags = {f"d{i}": entry(f"d{i}", i) for i in range(10)}
    index = DueIndex()
    index.rebuild(dags.values())
    for step in range(5_000):
        e = dags[f"d{step % 10}"]
        e.next_create_after = T0.add(minutes=100 + step)
        index.put(e)
    assert len(index._heap) <= 2 * len(index) + 1024
    assert due_ids(index, dags, 100 + 4_995) == ["d0", "d1", "d2", "d3", "d4", "d5"]
