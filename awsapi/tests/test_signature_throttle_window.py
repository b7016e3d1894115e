"""The in-process SigV4 failure counter: a fixed window per subject, on an injected clock."""

from __future__ import annotations

import pytest

from awsapi import signature_throttle
from awsapi.signature_throttle import LocalCounter

WINDOW = 60.0


class FakeClock:
    def __init__(self) -> None:
        self.now = 5000.0

    def __call__(self) -> float:
        return self.now


def test_failures_count_up_within_the_window_and_start_over_after_it() -> None:
    clock = FakeClock()
    counter = LocalCounter(clock=clock)
    assert [counter.hit("key:A", WINDOW) for _ in range(3)] == [1, 2, 3]
    clock.now += WINDOW - 0.001  # the window runs from the first failure, not the last
    assert counter.hit("key:A", WINDOW) == 4
    clock.now += 0.001
    assert counter.hit("key:A", WINDOW) == 1
    assert counter.hit("key:A", WINDOW) == 2


def test_each_subject_has_a_window_of_its_own() -> None:
    clock = FakeClock()
    counter = LocalCounter(clock=clock)
    counter.hit("key:A", WINDOW)
    clock.now += WINDOW / 2
    assert counter.hit("key:B", WINDOW) == 1
    clock.now += WINDOW / 2
    assert counter.hit("key:A", WINDOW) == 1  # A's window is over...
    assert counter.hit("key:B", WINDOW) == 2  # ...B's is not


def test_a_full_table_drops_expired_windows_first_and_else_starts_over(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(signature_throttle, "_MAX_LOCAL_SUBJECTS", 3)
    clock = FakeClock()
    counter = LocalCounter(clock=clock)
    counter.hit("key:old", WINDOW)
    clock.now += WINDOW / 2
    counter.hit("key:recent", WINDOW)
    counter.hit("key:recent", WINDOW)
    counter.hit("key:third", WINDOW)
    clock.now += WINDOW / 2  # old's window is over, recent's and third's are not
    assert counter.hit("key:new", WINDOW) == 1
    assert counter.hit("key:recent", WINDOW) == 3  # kept, with its count: only old went
    # Full of live windows, the table starts over rather than grow.
    assert counter.hit("key:fourth", WINDOW) == 1
    assert counter.hit("key:recent", WINDOW) == 1
