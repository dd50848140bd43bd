"""Fixtures for DAG processor tests: a DAGs folder and a processor on each backend."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pendulum
import pytest
from sqlalchemy import Engine

from windvane.core.authoring.defaults import get_authoring_defaults, set_authoring_defaults
from windvane.core.model.clock import FakeClock
from windvane.core.processor import DagProcessor


@pytest.fixture(autouse=True)
def _restore_authoring_defaults() -> Iterator[None]:
    saved = get_authoring_defaults()
    yield
    set_authoring_defaults(saved)


@pytest.fixture
def dags_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "dags"
    folder.mkdir()
    return folder


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(pendulum.datetime(2024, 3, 10, 12, 0, tz="UTC"))


@pytest.fixture
def make_processor(engine: Engine, dags_folder: Path, clock: FakeClock) -> Callable[..., DagProcessor]:
    def make(**kwargs: Any) -> DagProcessor:
        options: dict[str, Any] = {"parse_timeout": 30.0, "clock": clock}
        options.update(kwargs)
        return DagProcessor(dags_folder, engine, **options)

    return make


@pytest.fixture
def processor(make_processor: Callable[..., DagProcessor]) -> DagProcessor:
    return make_processor()
