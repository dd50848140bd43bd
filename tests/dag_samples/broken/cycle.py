"""Broken: a dependency cycle extract -> transform -> load -> extract."""

from __future__ import annotations

import pendulum

from windvane import DAG, EmptyOperator

with DAG("cycle", schedule="@daily", start_date=pendulum.datetime(2024, 1, 1, tz="UTC")) as dag:
    extract = EmptyOperator(task_id="extract")
    transform = EmptyOperator(task_id="transform")
    load = EmptyOperator(task_id="load")
    extract >> transform >> load >> extract
