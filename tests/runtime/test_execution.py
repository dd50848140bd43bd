"""run_try: one try in this process, every outcome."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pendulum
import pytest

from windvane.core.authoring.baseoperator import BaseOperator
from windvane.core.authoring.dag import DAG
from windvane.core.authoring.operators.empty import EmptyOperator
from windvane.core.authoring.operators.python import PythonOperator
from windvane.core.model import json_values as serde
from windvane.core.model.callback_runs import CallbackRun, CallbackStatus
from windvane.core.model.outcome import TryOutcome
from windvane.core.model.states import TaskInstanceState as S
from windvane.core.task_api.context import RunInfo, build_context
from windvane.core.task_api.task_instance import RuntimeTaskInstance
from windvane.core.task_api.templating import make_jinja_env
from windvane.core.worker.execution import run_try
from windvane.errors import TaskFailedNoRetry, TaskSkipped

START = datetime(2024, 1, 1, tzinfo=UTC)


def _dag() -> DAG:
    return DAG("exec_dag", schedule=None, start_date=START)


def _run(
    task: BaseOperator,
    *,
    try_number: int = 1,
    max_tries: int | None = None,
    callback_timeout: float = 60.0,
    claim_held: Callable[[], bool] | None = None,
) -> TryOutcome:
    assert task.dag is not None
    ti = RuntimeTaskInstance(
        dag_id=task.dag.dag_id,
        task_id=task.task_id,
        run_id="manual__1",
        try_number=try_number,
        max_tries=task.retries if max_tries is None else max_tries,
    )
    when = pendulum.datetime(2024, 3, 5, tz="UTC")
    run = RunInfo(
        dag_id=task.dag.dag_id,
        run_id="manual__1",
        run_type="manual",
        logical_date=when,
        data_interval_start=when,
        data_interval_end=when,
    )
    context = build_context(run=run, dag=task.dag, task=task, ti=ti, params={})
    return run_try(
        task, context, jinja_env=make_jinja_env(), callback_timeout=callback_timeout, claim_held=claim_held
    )


def _python(func: Callable[..., Any], **kwargs: Any) -> PythonOperator:
    dag = _dag()
    return PythonOperator(task_id="t", python_callable=func, dag=dag, **kwargs)


def user_failure() -> None:
    raise ValueError("bad input row 7")


def test_success_pushes_the_return_value() -> None:
    outcome = _run(_python(lambda: {"rows": [1, 2]}))
    assert outcome.state is S.SUCCESS
    assert outcome.error is None
    assert serde.deserialize(outcome.xcoms["return_value"]) == {"rows": [1, 2]}


def test_none_and_do_xcom_push_false_push_nothing() -> None:
    assert _run(_python(lambda: None)).xcoms == {}
    assert _run(_python(lambda: 5, do_xcom_push=False)).xcoms == {}


def test_task_skipped_ends_skipped() -> None:
    def skip() -> None:
        raise TaskSkipped("nothing to do today")

    outcome = _run(_python(skip, retries=3))
    assert outcome.state is S.SKIPPED
    assert outcome.next_retry_delay is None


def test_failure_without_retries_is_failed_with_user_traceback() -> None:
    outcome = _run(_python(user_failure))
    assert outcome.state is S.FAILED
    assert outcome.error is not None
    assert "ValueError: bad input row 7" in outcome.error
    assert "in user_failure" in outcome.error
    assert "windvane/core" not in outcome.error  # Windvane's frames are trimmed
    assert outcome.next_retry_delay is None


@pytest.mark.parametrize(
    ("try_number", "expected"),
    [(1, S.UP_FOR_RETRY), (2, S.UP_FOR_RETRY), (3, S.FAILED)],
)
def test_retry_while_try_number_at_most_max_tries(try_number: int, expected: S) -> None:
    outcome = _run(_python(user_failure, retries=2, retry_delay=30), try_number=try_number)
    assert outcome.state is expected
    if expected is S.UP_FOR_RETRY:
        assert outcome.next_retry_delay == timedelta(seconds=30)


def test_retry_delay_backs_off_exponentially() -> None:
    task = _python(user_failure, retries=5, retry_delay=10, retry_exponential_backoff=True)
    assert _run(task, try_number=3).next_retry_delay == timedelta(seconds=40)


def test_failed_no_retry_ignores_remaining_retries() -> None:
    def give_up() -> None:
        raise TaskFailedNoRetry("the source is gone for good")

    outcome = _run(_python(give_up, retries=3))
    assert outcome.state is S.FAILED
    assert outcome.error is not None and "the source is gone for good" in outcome.error


class Sleeper(BaseOperator):
    killed = False

    def execute(self, context: dict[str, Any]) -> Any:
        time.sleep(30)

    def on_kill(self) -> None:
        type(self).killed = True


def test_execution_timeout_interrupts_and_calls_on_kill() -> None:
    task = Sleeper(task_id="slow", execution_timeout=0.2, dag=_dag())
    started = time.monotonic()
    outcome = _run(task)
    assert time.monotonic() - started < 5
    assert outcome.state is S.FAILED
    assert outcome.error is not None and "timed out after 0.2 s" in outcome.error
    assert Sleeper.killed


def test_unserializable_return_value_fails_naming_task_and_type() -> None:
    outcome = _run(_python(lambda: {1, 2}))
    assert outcome.state is S.FAILED
    assert outcome.error is not None
    assert "'t'" in outcome.error and "'set'" in outcome.error
    assert outcome.xcoms == {}


def test_failing_callback_is_logged_and_changes_nothing(caplog: pytest.LogCaptureFixture) -> None:
    seen: list[str] = []

    def broken(context: dict[str, Any]) -> None:
        raise RuntimeError("callback bug")

    def good(context: dict[str, Any]) -> None:
        seen.append(context["ti"].task_id)

    with caplog.at_level(logging.ERROR, logger="windvane.task"):
        outcome = _run(_python(lambda: 1, on_success_callback=[broken, good]))
    assert outcome.state is S.SUCCESS
    assert seen == ["t"]  # the next callback still ran
    assert "callback bug" in caplog.text and "on_success_callback" in caplog.text


def test_a_try_that_lost_its_task_instance_runs_no_end_callback() -> None:
    """A try failed over while its worker was cut off ends later: its outcome will be rejected, so
    its callbacks must not run (the retry's run instead: callbacks once)."""
    seen: list[str] = []
    asked: list[bool] = []

    def held(answer: bool) -> Callable[[], bool]:
        return lambda: asked.append(answer) or answer

    lost = _run(_python(lambda: 3, on_success_callback=lambda c: seen.append("lost")), claim_held=held(False))
    assert lost.state is S.SUCCESS and lost.callbacks == () and seen == []
    _run(_python(lambda: 3, on_success_callback=lambda c: seen.append("held")), claim_held=held(True))
    assert seen == ["held"]
    _run(_python(lambda: 3), claim_held=held(False))  # no callback: the database is not asked
    assert asked == [False, True]


def test_failure_and_retry_callbacks_get_the_exception() -> None:
    got: dict[str, BaseException] = {}
    _run(_python(user_failure, retries=1, on_retry_callback=lambda c: got.update(retry=c["exception"])))
    _run(_python(user_failure, on_failure_callback=lambda c: got.update(failure=c["exception"])))
    assert isinstance(got["retry"], ValueError) and isinstance(got["failure"], ValueError)


def test_on_execute_callback_failure_does_not_stop_the_task() -> None:
    def broken(context: dict[str, Any]) -> None:
        raise RuntimeError("nope")

    assert _run(_python(lambda: 3, on_execute_callback=broken)).state is S.SUCCESS


def test_templated_fields_are_rendered_before_execute() -> None:
    def echo(day: str, run: str) -> str:
        return f"{day}/{run}"

    outcome = _run(_python(echo, op_kwargs={"day": "{{ ds }}", "run": "{{ run_id }}"}))
    assert serde.deserialize(outcome.xcoms["return_value"]) == "2024-03-05/manual__1"


def test_bad_template_fails_the_try_naming_the_field() -> None:
    outcome = _run(_python(lambda x: x, op_kwargs={"x": "{{ no_such_thing }}"}))
    assert outcome.state is S.FAILED
    assert outcome.error is not None and "op_kwargs" in outcome.error


def test_noop_task_succeeds_without_executing() -> None:
    class Boom(EmptyOperator):
        def execute(self, context: dict[str, Any]) -> Any:
            raise AssertionError("must not run")

    assert _run(Boom(task_id="e", dag=_dag())).state is S.SUCCESS


def test_outcome_json_round_trip() -> None:
    outcome = TryOutcome(
        state=S.UP_FOR_RETRY,
        error="x",
        xcoms={"k": "1"},
        skip_task_ids=("a",),
        next_retry_delay=timedelta(seconds=2),
        callbacks=(CallbackRun("on_retry_callback", CallbackStatus.FAILED, 0.25),),
    )
    assert TryOutcome.from_json(outcome.to_json()) == outcome
    older = json.loads(outcome.to_json())
    del older["callbacks"]  # kept by a worker from before callbacks were reported
    assert TryOutcome.from_json(json.dumps(older)).callbacks == ()


def test_each_callback_is_reported_with_the_outcome() -> None:
    def broken(context: dict[str, Any]) -> None:
        raise RuntimeError("nope")

    outcome = _run(
        _python(lambda: 3, on_execute_callback=broken, on_success_callback=[lambda c: None, broken])
    )
    assert [(r.hook, r.status) for r in outcome.callbacks] == [
        ("on_execute_callback", CallbackStatus.FAILED),
        ("on_success_callback", CallbackStatus.OK),
        ("on_success_callback", CallbackStatus.FAILED),
    ]
    assert _run(_python(lambda: 3)).callbacks == ()  # no callback: nothing reported, no thread started


def test_a_hanging_callback_times_out_and_the_outcome_stands(caplog: pytest.LogCaptureFixture) -> None:
    release = threading.Event()
    after: list[str] = []

    def stuck_forever(context: dict[str, Any]) -> None:
        release.wait(60)

    try:
        with caplog.at_level(logging.ERROR, logger="windvane.task"):
            outcome = _run(
                _python(user_failure, on_failure_callback=[stuck_forever, lambda c: after.append("ran")]),
                callback_timeout=0.2,
            )
    finally:
        release.set()
    assert outcome.state is S.FAILED and "bad input row 7" in (outcome.error or "")
    assert [(r.hook, r.status) for r in outcome.callbacks] == [
        ("on_failure_callback", CallbackStatus.TIMED_OUT),
        ("on_failure_callback", CallbackStatus.OK),
    ]
    assert outcome.callbacks[0].seconds >= 0.2
    assert after == ["ran"]
    assert "stuck_forever of task t did not finish within 0.2 s" in caplog.text
    assert "release.wait(60)" in caplog.text  # where it hangs
