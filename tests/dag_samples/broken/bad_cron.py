"""Broken: a cron expression whose hour field is out of range."""

from __future__ import annotations

import pendulum

from windvane import DAG, EmptyOperator

with DAG("bad_cron", schedule="0 25 * * *", start_date=pendulum.datetime(2024, 1, 1, tz="UTC")) as dag:
    EmptyOperator(task_id="t")
