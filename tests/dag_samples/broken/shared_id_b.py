"""Broken (with shared_id_a.py): the dag_id "shared" is defined in two files."""

from __future__ import annotations

from windvane import DAG, EmptyOperator

with DAG("shared", schedule=None) as dag:
    EmptyOperator(task_id="b")
