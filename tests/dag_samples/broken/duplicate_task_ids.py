"""Broken: two tasks with the id "load"."""

from __future__ import annotations

from windvane import DAG, EmptyOperator

with DAG("duplicate_task_ids", schedule=None) as dag:
    first = EmptyOperator(task_id="load")
    second = EmptyOperator(task_id="load")
