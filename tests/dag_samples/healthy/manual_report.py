"""A healthy manual-only DAG built with the decorator."""

from __future__ import annotations

from windvane import dag, task


@dag(schedule=None, default_args={"owner": "analytics", "retries": 1}, tags=["reports"])
def manual_report() -> None:
    @task
    def build() -> str:
        return "ok"

    build()


manual_report()
