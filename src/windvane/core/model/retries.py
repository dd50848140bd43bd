"""When a failed try runs again (pure)."""

from __future__ import annotations

from datetime import timedelta

#: Upper bound for any computed retry delay, as in Airflow.
MAX_RETRY_DELAY = timedelta(hours=24)


def retry_delay_for(
    try_number: int,
    *,
    retry_delay: timedelta,
    exponential_backoff: bool,
    max_retry_delay: timedelta | None,
) -> timedelta:
    """The wait after try ``try_number`` (1-based) failed.

    With exponential backoff the delay doubles per try
    (``retry_delay * 2 ** (try_number - 1)``), capped by ``max_retry_delay``
    (or 24 h). Unlike Airflow we add no hash jitter, so the schedule is
    predictable and testable.
    """
    delay = retry_delay
    if exponential_backoff:
        factor = 2 ** max(0, min(try_number - 1, 40))
        seconds = min(retry_delay.total_seconds() * factor, MAX_RETRY_DELAY.total_seconds())
        delay = timedelta(seconds=seconds)
    cap = max_retry_delay if max_retry_delay is not None else MAX_RETRY_DELAY
    return min(delay, cap)
