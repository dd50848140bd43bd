"""Every catalogued metric was moved and asserted on both backends by the suite (runs last).

A metric nobody emits is how Airflow lost ``dagrun.schedule_delay`` (#14364) and ``ti.start`` (#62019).
"""

from __future__ import annotations

import pytest

from tests.metrics.helpers import MOVED
from windvane.metrics.catalogue import CATALOGUE
from windvane.metrics.metric import Metric

MOVERS = ("test_scheduler_metrics.py", "test_processor_metrics.py", "test_sink.py")


@pytest.mark.parametrize("metric", CATALOGUE, ids=lambda metric: metric.name)
def test_metric_was_moved_on_both_backends(metric: Metric, request: pytest.FixtureRequest) -> None:
    collected = {item.path.name for item in request.session.items}
    missing = [name for name in MOVERS if name not in collected]
    if missing:
        pytest.skip(f"needs the whole tests/metrics suite (not collected: {', '.join(missing)})")
    assert metric.name in MOVED, f"no test moved {metric.name} ({metric.statsd}) and checked both backends"
