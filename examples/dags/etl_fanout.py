"""ETL with fan-out / fan-in: extract once, transform three regions in parallel, load, report."""

from __future__ import annotations

import json
from datetime import timedelta

import pendulum

from windvane import DAG, BashOperator, PythonOperator

REGIONS = ["emea", "amer", "apac"]


def extract(ds: str, ti) -> dict[str, int]:  # type: ignore[no-untyped-def]
    # A real pipeline would call an API for the interval; this one fabricates rows.
    rows = {region: 100 + i * 10 for i, region in enumerate(REGIONS)}
    print(f"extracted {sum(rows.values())} rows for {ds}")
    return rows


def transform(region: str, ti) -> int:  # type: ignore[no-untyped-def]
    rows = ti.xcom_pull(task_ids="extract")[region]
    cleaned = rows - rows // 10
    print(f"{region}: {rows} rows in, {cleaned} rows out")
    return cleaned


def load(ti) -> int:  # type: ignore[no-untyped-def]
    totals = ti.xcom_pull(task_ids=[f"transform_{r}" for r in REGIONS])
    print("loading", json.dumps(dict(zip(REGIONS, totals, strict=True))))
    return sum(totals)


with DAG(
    "etl_fanout",
    description="Extract, transform per region in parallel, load, report",
    schedule="*/10 * * * *",
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    default_args={"owner": "data-eng", "retries": 2, "retry_delay": timedelta(seconds=5)},
    tags=["example", "etl"],
    max_active_runs=1,
) as dag:
    start = BashOperator(task_id="check_source", bash_command="echo source ready for {{ ds }}")
    extract_task = PythonOperator(task_id="extract", python_callable=extract)
    transforms = [
        PythonOperator(task_id=f"transform_{r}", python_callable=transform, op_kwargs={"region": r})
        for r in REGIONS
    ]
    load_task = PythonOperator(task_id="load", python_callable=load)
    report = BashOperator(
        task_id="report",
        bash_command="echo 'loaded {{ ti.xcom_pull(task_ids=\"load\") }} rows for {{ data_interval_start }}'",
    )
    start >> extract_task >> transforms >> load_task >> report
