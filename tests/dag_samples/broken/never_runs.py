"""Broken: scheduled daily, but its end_date comes before its first run."""

from __future__ import annotations

import pendulum

from windvane import DAG, EmptyOperator

with DAG(
    "never_runs",
    schedule="@daily",
    start_date=pendulum.datetime(2024, 1, 1, 1, tz="UTC"),
    end_date=pendulum.datetime(2024, 1, 1, 2, tz="UTC"),
) as dag:
    EmptyOperator(task_id="t")
