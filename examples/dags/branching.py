"""A branch: weekday and weekend intervals take different paths, then join."""

from __future__ import annotations

import pendulum

from windvane import DAG, BranchPythonOperator, EmptyOperator, PythonOperator, TriggerRule


def choose(logical_date: pendulum.DateTime) -> str:
    return "weekend_summary" if logical_date.day_of_week in (5, 6) else "weekday_refresh"


with DAG(
    "branching",
    description="Branch on the interval's weekday; the join runs whichever path ran",
    schedule="@daily",
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    tags=["example"],
) as dag:
    pick = BranchPythonOperator(task_id="pick_path", python_callable=choose)
    weekday = PythonOperator(task_id="weekday_refresh", python_callable=lambda: print("refreshing marts"))
    weekend = PythonOperator(task_id="weekend_summary", python_callable=lambda: print("weekly summary"))
    join = EmptyOperator(task_id="join", trigger_rule=TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS)
    pick >> [weekday, weekend] >> join
