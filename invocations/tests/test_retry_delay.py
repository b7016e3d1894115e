"""The spacing of an asynchronous event's retries, as a pure function of the retry number."""

from __future__ import annotations

from invocations.asynchronous import retry_delay


def test_a_failing_event_is_retried_after_one_minute_then_two() -> None:
    assert [retry_delay(retry, base=60) for retry in (1, 2)] == [60, 120]


def test_each_retry_waits_twice_as_long_as_the_one_before() -> None:
    assert [retry_delay(retry, base=0.5) for retry in range(1, 6)] == [0.5, 1, 2, 4, 8]


def test_the_delay_never_exceeds_its_ceiling() -> None:
    delays = [retry_delay(retry, base=1, cap=300) for retry in range(1, 13)]
    assert delays == [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300]
