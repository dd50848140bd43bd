"""Fixtures of the sensor tests: a :class:`~tests.sensors.harness.Runtime` on the test database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from tests.sensors.harness import Runtime


@pytest.fixture
def runtime(engine: Engine, tmp_path: Path) -> Iterator[Runtime]:
    rt = Runtime(engine, tmp_path)
    yield rt
    rt.stop()
