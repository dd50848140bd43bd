"""parse_files keeps the processor's heap frozen while children run, and only then."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.processor.helpers import simple_dag, write
from windvane.core.processor.pool import parse_files


@pytest.fixture(autouse=True)
def _unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()


def test_the_heap_is_frozen_while_parsing_and_unfrozen_after(dags_folder: Path) -> None:
    paths = [str(write(dags_folder / f"d{i}.py", simple_dag(f"d{i}"))) for i in range(2)]
    frozen_during: list[int] = []
    results = parse_files(paths, parallelism=1, timeout=30)
    for result in results:
        assert result.error is None
        frozen_during.append(gc.get_freeze_count())
    assert len(frozen_during) == 2 and all(count > 0 for count in frozen_during)
    assert gc.get_freeze_count() == 0


def test_closing_early_unfreezes_and_a_callers_freeze_is_left_alone(dags_folder: Path) -> None:
    paths = [str(write(dags_folder / f"d{i}.py", simple_dag(f"d{i}"))) for i in range(3)]
    results = parse_files(paths, parallelism=1, timeout=30)
    next(results)
    results.close()
    assert gc.get_freeze_count() == 0
    gc.freeze()
    before = gc.get_freeze_count()
    assert len(list(parse_files(paths[:1], parallelism=1, timeout=30))) == 1
    assert gc.get_freeze_count() >= before
