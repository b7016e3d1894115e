"""The log caps' parts on their own, with an injected clock (no sleeping)."""

from __future__ import annotations

from invocations.executor import logcaps
from invocations.executor.logcaps import (
    AccountBuckets,
    IngestBudget,
    LineSplitter,
    OutputGate,
    Tail,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_an_account_may_burst_then_gets_its_rate() -> None:
    clock = Clock()
    buckets = AccountBuckets(clock, bytes_per_s=100, bytes_burst=300, lines_per_s=1000)
    assert [buckets.admit("a", 100) for _ in range(4)] == [True, True, True, False]
    clock.now += 0.5
    assert not buckets.admit("a", 100)  # 50 bytes of credit so far
    clock.now += 0.5
    assert buckets.admit("a", 100)
    assert not buckets.admit("a", 100)


def test_the_line_bucket_limits_short_lines() -> None:
    clock = Clock()
    buckets = AccountBuckets(clock, lines_per_s=5, lines_burst=10)
    assert sum(buckets.admit("a", 1) for _ in range(50)) == 10
    clock.now += 1
    assert sum(buckets.admit("a", 1) for _ in range(50)) == 5
    clock.now += 100  # credit does not pile up beyond the burst
    assert sum(buckets.admit("a", 1) for _ in range(50)) == 10


def test_one_accounts_flood_does_not_use_another_accounts_bucket() -> None:
    clock = Clock()
    buckets = AccountBuckets(clock, lines_per_s=5, lines_burst=10)
    assert sum(buckets.admit("flood", 1) for _ in range(1000)) == 10
    assert all(buckets.admit("quiet", 1) for _ in range(10))


def test_idle_accounts_are_forgotten_when_many_are_tracked(monkeypatch) -> None:
    monkeypatch.setattr(logcaps, "MAX_TRACKED_ACCOUNTS", 3)
    clock = Clock()
    buckets = AccountBuckets(clock, lines_per_s=5, lines_burst=10)
    for account in "abc":
        buckets.admit(account, 1)
    clock.now += 10
    buckets.admit("d", 1)
    assert len(buckets._buckets) == 1


def test_the_invocation_cap_writes_one_truncation_line() -> None:
    gate = OutputGate("a", AccountBuckets(Clock()), max_bytes=1000, max_lines=100)
    kept, notices = gate.admit(["x" * 400, "y" * 400, "z" * 400, "w"])
    assert kept == ["x" * 400, "y" * 400]
    assert notices == [logcaps.TRUNCATION_NOTICE]
    assert gate.admit(["more"]) == ([], [])
    gate.reset()
    assert gate.admit(["next invocation"]) == (["next invocation"], [])


def test_the_invocation_cap_counts_lines() -> None:
    gate = OutputGate("a", AccountBuckets(Clock()), max_bytes=10**6, max_lines=3)
    kept, notices = gate.admit(["1", "2", "3", "4", "5"])
    assert kept == ["1", "2", "3"]
    assert notices == [logcaps.TRUNCATION_NOTICE]


def test_throttled_lines_are_reported_at_most_once_a_second() -> None:
    clock = Clock()
    buckets = AccountBuckets(clock, lines_per_s=1, lines_burst=2)
    gate = OutputGate("a", buckets)
    kept, notices = gate.admit(["1", "2", "3", "4"])
    assert kept == ["1", "2"]
    assert notices == [logcaps.throttle_notice(2, 2)]
    clock.now += 0.5
    assert gate.admit(["5", "6"]) == ([], [])
    clock.now += 0.5
    kept, notices = gate.admit(["7"])
    assert kept == ["7"]
    assert notices == [logcaps.throttle_notice(2, 2)]
    assert gate.admit(["8"]) == ([], [])
    # Before END, what is still unreported is reported.
    assert gate.closing() == [logcaps.throttle_notice(1, 1)]
    assert gate.closing() == []


def test_a_throttled_flood_still_reaches_its_invocation_cap() -> None:
    clock = Clock()
    gate = OutputGate(
        "a", AccountBuckets(clock, lines_per_s=1, lines_burst=1), max_bytes=10, max_lines=10**6
    )
    kept, notices = gate.admit(["abcd"] * 10)
    assert kept == ["abcd"]
    assert notices == [logcaps.throttle_notice(1, 4), logcaps.TRUNCATION_NOTICE]
    assert gate.truncated


def test_lines_are_split_at_the_event_limit_without_cutting_characters() -> None:
    splitter = LineSplitter(max_event_bytes=10)
    assert splitter.feed(b"short\nabcdefghijklmnopqrstuvwxyz\nrest") == [
        "short",
        "abcdefghij",
        "klmnopqrst",
        "uvwxyz",
    ]
    assert splitter.feed(b"\xc3\xa9" * 6) == ["rest\xe9\xe9\xe9"]  # 4 + 6 bytes
    assert splitter.flush() == ["\xe9" * 3]
    assert splitter.flush() == []
    pieces = splitter.feed(b"a" + b"\xe2\x82\xac" * 5 + b"\n")
    assert pieces == ["a\u20ac\u20ac\u20ac", "\u20ac\u20ac"]


def test_a_long_partial_line_is_emitted_in_pieces_not_kept() -> None:
    splitter = LineSplitter(max_event_bytes=10)
    lines = []
    for _ in range(100):
        lines.extend(splitter.feed(b"x" * 7))
        assert len(splitter._partial) <= 10
    assert all(line == "x" * 10 for line in lines)
    assert len(lines) == 69
    assert splitter.flush() == ["x" * 10]


def test_invalid_bytes_do_not_make_an_event_too_large() -> None:
    splitter = LineSplitter(max_event_bytes=12)
    (line,) = splitter.feed(b"\xff" * 12 + b"\n")
    assert len(line.encode()) <= 12


def test_the_tail_keeps_only_the_last_lines() -> None:
    tail = Tail(keep=20)
    tail.extend([f"line {i}" for i in range(1000)])
    assert tail.lines() == ["line 998", "line 999"]
    tail.extend(["x" * 100])
    assert tail.lines() == ["x" * 100]


def test_the_ingest_queue_drops_output_but_keeps_essential_lines_up_to_a_reserve(
    monkeypatch,
) -> None:
    monkeypatch.setattr(logcaps, "INGEST_ACCOUNT_SHARE", 1.0)
    overhead = logcaps.EVENT_OVERHEAD_BYTES
    budget = IngestBudget(max_bytes=3 * (10 + overhead), essential_reserve=2 * (10 + overhead))
    key = ("a", "g", "s")
    events = [(1, "0123456789")] * 5
    assert budget.take(key, events, essential=False) == events[:3]
    assert budget.take(key, events[:1], essential=False) == []
    assert budget.take(key, events, essential=True) == events[:2]
    assert budget.take_dropped() == {key: 2 + 1 + 3}
    assert budget.take_dropped() == {}
    budget.release("a", events[:2])
    assert budget.take(key, events[:1], essential=False) == []  # essential ones still wait
    budget.release("a", events[:1])
    assert budget.take(key, events[:1], essential=False) == events[:1]


def test_one_account_cannot_fill_the_ingest_queue() -> None:
    size = 10 + logcaps.EVENT_OVERHEAD_BYTES
    budget = IngestBudget(max_bytes=4 * size, essential_reserve=0)
    events = [(1, "0123456789")] * 4
    assert budget.take(("flood", "g", "s"), events, essential=False) == events[:2]
    assert budget.take(("flood", "g", "t"), events, essential=False) == []
    assert budget.take(("quiet", "g", "s"), events[:2], essential=False) == events[:2]
    budget.release("flood", events[:2])
    assert budget.pending_by_account == {"quiet": 2 * size}
    assert budget.take(("flood", "g", "s"), events, essential=False) == events[:2]
