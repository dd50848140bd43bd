"""Fixtures for Connections/Variables tests: the CLI fixtures (a tmp home, ``main`` in-process), and a
clean masker and resolver around each test (both are process-wide)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from windvane.core.task_api import secrets
from windvane.core.task_api.masking import masker

from ..cli.conftest import _isolated, dags_folder, home, ready, run_cli  # noqa: F401


@pytest.fixture(autouse=True)
def _clean_secrets() -> Iterator[None]:
    resolver = secrets.installed_resolver()
    names = masker().sensitive_names
    masker().clear()
    yield
    masker().clear()
    masker().set_sensitive_names(names)
    secrets.install_resolver(resolver)
