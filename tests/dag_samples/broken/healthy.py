"""A healthy DAG: an owner, retries, tags, a schedule with a start date."""

from __future__ import annotations

import pendulum

from windvane import DAG, EmptyOperator, PythonOperator

with DAG(
    "healthy",
    schedule="0 6 * * *",
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    default_args={"owner": "data-eng", "retries": 2},
    tags=["sales"],
) as dag:
    extract = PythonOperator(task_id="extract", python_callable=lambda: [1, 2])
    done = EmptyOperator(task_id="done")
    extract >> done
