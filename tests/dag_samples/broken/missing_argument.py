"""Broken: an operator without its required argument."""

from __future__ import annotations

from windvane import DAG, BashOperator

with DAG("missing_argument", schedule=None) as dag:
    BashOperator(task_id="run")
