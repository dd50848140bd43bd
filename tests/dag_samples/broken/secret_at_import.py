"""Broken: reads a password from the environment at the top level."""

from __future__ import annotations

import os

from windvane import DAG, EmptyOperator

PASSWORD = os.environ.get("WAREHOUSE_PASSWORD", "")

with DAG("secret_at_import", schedule=None) as dag:
    EmptyOperator(task_id="t")
