"""Calls nobody vouched for are aggregated and budgeted: a flood cannot grow the table
at its own rate."""

from __future__ import annotations

from typing import Any

import pytest

from audit.recorder import AuditRecorder


def _failed_call(address: str, key_id: str = "AKIDFLOOD") -> dict[str, Any]:
    return {
        "userIdentity": {"type": "Unknown", "accessKeyId": key_id},
        "eventTime": "2026-12-05T00:00:00Z",
        "eventSource": "lambda.amazonaws.com",
        "eventName": "ListFunctions",
        "errorCode": "UnrecognizedClientException",
        "sourceIPAddress": address,
        "recipientAccountId": "",
        "eventID": "00000000-0000-0000-0000-000000000000",
    }


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_020.0

    def __call__(self) -> float:
        return self.now


def _recorder(clock: Clock, stored: list[dict[str, Any]], budget: int = 5) -> AuditRecorder:
    return AuditRecorder(
        store=stored.extend, clock=clock, background=False, unauthenticated_per_minute=budget
    )


def test_a_flood_from_one_address_makes_one_row_with_its_count() -> None:
    clock, stored = Clock(), list[dict[str, Any]]()
    recorder = _recorder(clock, stored)
    for _ in range(10_000):
        recorder.record_unauthenticated(_failed_call("10.0.0.1"))
    recorder.flush()
    assert len(stored) == 1
    assert stored[0]["_count"] == 10_000
    assert stored[0]["additionalEventData"] == {"aggregatedCount": 10_000}


def test_a_flood_from_many_addresses_stays_within_the_minutes_budget() -> None:
    clock, stored = Clock(), list[dict[str, Any]]()
    recorder = _recorder(clock, stored, budget=5)
    for number in range(10_000):
        recorder.record_unauthenticated(_failed_call(f"10.0.{number // 256}.{number % 256}"))
    recorder.flush()
    # Five aggregated rows, and one row counting the rest for the operator.
    assert len(stored) == 6
    over = [event for event in stored if event["eventName"] == "UnauthenticatedCallsNotRecorded"]
    assert len(over) == 1
    assert over[0]["_count"] == 10_000 - 5
    assert over[0]["recipientAccountId"] == ""
    assert sum(event.get("_count", 1) for event in stored) == 10_000


def test_the_background_flush_keeps_the_minutes_aggregates_open_until_it_ends() -> None:
    clock, stored = Clock(), list[dict[str, Any]]()
    recorder = _recorder(clock, stored)
    for _ in range(3):
        recorder.record_unauthenticated(_failed_call("10.0.0.1"))
    recorder.flush(whole=False)
    assert stored == []
    recorder.record_unauthenticated(_failed_call("10.0.0.1"))
    clock.now += 60
    recorder.flush(whole=False)
    assert [event["_count"] for event in stored] == [4]


def test_the_budget_starts_again_each_minute() -> None:
    clock, stored = Clock(), list[dict[str, Any]]()
    recorder = _recorder(clock, stored, budget=2)
    for _minute in range(3):
        for number in range(50):
            recorder.record_unauthenticated(_failed_call(f"10.1.0.{number}"))
        clock.now += 60
    recorder.flush()
    # Per minute: two aggregated rows and one over-budget row.
    assert len(stored) == 3 * 3


def test_an_accounts_own_events_are_recorded_one_by_one_up_to_its_minutes_budget() -> None:
    clock, stored = Clock(), list[dict[str, Any]]()
    recorder = AuditRecorder(
        store=stored.extend, clock=clock, background=False, per_account_per_minute=100
    )
    for _ in range(1_000):
        recorder.record({"eventName": "ListFunctions", "recipientAccountId": "111111111111"})
    recorder.record({"eventName": "ListFunctions", "recipientAccountId": "222222222222"})
    clock.now += 60
    recorder.record({"eventName": "GetFunction", "recipientAccountId": "111111111111"})
    recorder.flush()
    names = [(event["eventName"], event["recipientAccountId"]) for event in stored]
    assert names.count(("ListFunctions", "111111111111")) == 100
    assert names.count(("ListFunctions", "222222222222")) == 1  # another account's budget
    [over] = [event for event in stored if event["eventName"] == "AuditEventsNotRecorded"]
    assert (over["recipientAccountId"], over["_count"]) == ("111111111111", 900)
    assert names[-1] == ("GetFunction", "111111111111")  # a new minute, a new budget


def test_events_are_kept_when_storing_fails_and_stored_next_time() -> None:
    attempts: list[int] = []
    stored: list[dict[str, Any]] = []

    def flaky(events: list[dict[str, Any]]) -> None:
        attempts.append(len(events))
        if len(attempts) == 1:
            raise RuntimeError("database down")
        stored.extend(events)

    recorder = AuditRecorder(store=flaky, clock=Clock(), background=False)
    recorder.record({"eventName": "CreateFunction"})
    with pytest.raises(RuntimeError):
        recorder.flush()
    recorder.record({"eventName": "DeleteFunction"})
    recorder.flush()
    assert [event["eventName"] for event in stored] == ["CreateFunction", "DeleteFunction"]
