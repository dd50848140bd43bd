"""TaskFlow: functions become tasks, return values travel as XCom, calls make the dependencies."""

from __future__ import annotations

from datetime import timedelta

import pendulum

from windvane import dag, task


@dag(
    schedule=timedelta(minutes=15),
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    tags=["example", "taskflow"],
)
def taskflow_pipeline(threshold: int = 20) -> None:
    """Order statistics for the interval."""

    @task
    def extract() -> list[dict[str, object]]:
        return [{"order": i, "amount": 7 * i % 50} for i in range(1, 11)]

    @task(multiple_outputs=True)
    def summarise(orders: list[dict[str, object]]) -> dict[str, float]:
        amounts = [float(o["amount"]) for o in orders]  # type: ignore[arg-type]
        return {"total": sum(amounts), "mean": sum(amounts) / len(amounts)}

    @task
    def flag_large(orders: list[dict[str, object]], params: dict[str, object]) -> list[int]:
        limit = int(params["threshold"])  # type: ignore[call-overload]
        return [int(o["order"]) for o in orders if int(o["amount"]) > limit]  # type: ignore[call-overload]

    @task
    def publish(total: float, mean: float, large: list[int]) -> str:
        message = f"total={total:.0f} mean={mean:.1f} large_orders={large}"
        print(message)
        return message

    orders = extract()
    stats = summarise(orders)
    publish(stats["total"], stats["mean"], flag_large(orders))


taskflow_pipeline()
