"""Fixtures of the metrics tests (helpers live in :mod:`tests.metrics.helpers`).

``statsd_listener``  a real UDP socket on 127.0.0.1 that decodes StatsD lines.
``backends``         both backends (a fresh Prometheus registry; StatsD with tags to the
                     listener) behind one strict ``MultiSink``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.metrics.helpers import Backends, StatsdListener


@pytest.fixture
def statsd_listener() -> Iterator[StatsdListener]:
    listener = StatsdListener()
    yield listener
    listener.close()


@pytest.fixture
def backends(statsd_listener: StatsdListener) -> Iterator[Backends]:
    both = Backends(statsd_listener)
    yield both
    both.close()
