"""Asynchronous invocation: InvocationType Event / InvokeAsync, retries, claims and the sweeper."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from botocore.exceptions import ClientError
from django.utils import timezone

from conftest import (
    LiveServer,
    client_error,
    client_for,
    create_function,
    create_user,
    make_zip,
    run_server,
)
from console.tests.raw_http import signed
from functions.models import EventInvokeConfig
from functions.tests.factories import function_row
from iam.models import Account
from invocations import asynchronous, remote, taskqueue
from invocations.models import AsyncInvocation
from invocations.tests.factories import async_invocation_row

RETRY_BASE_SECONDS = 1.0


@pytest.fixture(scope="module")
def functory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server of its own whose retries come after seconds, not minutes."""
    yield from run_server(
        tmp_path_factory,
        {
            "FUNCTORY_ASYNC_RETRY_BASE_SECONDS": str(RETRY_BASE_SECONDS),
            "FUNCTORY_ASYNC_SWEEP_SECONDS": "2",
        },
    )


def _name() -> str:
    return f"async-{uuid.uuid4().hex[:8]}"


def _log_messages(logs: Any, name: str) -> list[dict[str, Any]]:
    try:
        events: list[dict[str, Any]] = logs.filter_log_events(logGroupName=f"/aws/lambda/{name}")[
            "events"
        ]
    except ClientError:
        return []
    return events


def _starts(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in events if e["message"].startswith("START RequestId:")]


def _wait_for(check: Any, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.25)


def _failed(functory: LiveServer, credentials: Any, name: str) -> list[dict[str, Any]]:
    """The function's asynchronous invocations that have ended in failure."""
    response = signed(
        functory, credentials, "GET", f"/_functory/async-invocations?FunctionName={name}"
    )
    rows: list[dict[str, Any]] = response.json()["AsyncInvocations"]
    return [row for row in rows if row["Status"] == "failed"]


def _throttled(
    functory: LiveServer, credentials: Any, name: str, request_id: str
) -> list[dict[str, Any]]:
    """The event ``request_id`` if its last attempt was throttled."""
    response = signed(
        functory, credentials, "GET", f"/_functory/async-invocations?FunctionName={name}"
    )
    rows: list[dict[str, Any]] = response.json()["AsyncInvocations"]
    return [
        row
        for row in rows
        if row["RequestId"] == request_id
        and (row["LastError"] or "").startswith("TooManyRequestsException")
    ]


FAILING = (
    "def handler(event, context):\n    print('attempt', event['n'])\n    raise ValueError('nope')\n"
)


@pytest.mark.live
def test_an_event_invoke_is_accepted_at_once_and_runs(
    lam: Any, functory: LiveServer, credentials: Any
) -> None:
    name = _name()
    code = "def handler(event, context):\n    print('seen', event['marker'])\n    return 1\n"
    create_function(lam, name, Code={"ZipFile": make_zip({"app.py": code})})
    marker = uuid.uuid4().hex
    response = lam.invoke(
        FunctionName=name, InvocationType="Event", Payload=json.dumps({"marker": marker})
    )
    assert response["StatusCode"] == 202
    assert response["Payload"].read() == b""
    request_id = response["ResponseMetadata"]["RequestId"]
    assert request_id
    logs = client_for(functory, credentials, "logs")
    events = _wait_for(
        lambda: [e for e in _log_messages(logs, name) if f"seen {marker}" in e["message"]]
    )
    assert len(events) == 1
    starts = _starts(_log_messages(logs, name))
    assert [s["message"].split()[2] for s in starts] == [request_id]


@pytest.mark.live
def test_invoke_async_answers_202_and_runs(
    lam: Any, functory: LiveServer, credentials: Any
) -> None:
    name = _name()
    code = "def handler(event, context):\n    print('legacy', event['marker'])\n"
    create_function(lam, name, Code={"ZipFile": make_zip({"app.py": code})})
    marker = uuid.uuid4().hex
    response = lam.invoke_async(FunctionName=name, InvokeArgs=json.dumps({"marker": marker}))
    assert response["Status"] == 202
    logs = client_for(functory, credentials, "logs")
    _wait_for(lambda: [e for e in _log_messages(logs, name) if f"legacy {marker}" in e["message"]])


@pytest.mark.live
def test_a_failing_function_is_tried_three_times_with_growing_spacing(
    lam: Any, functory: LiveServer, credentials: Any
) -> None:
    name = _name()
    create_function(lam, name, Code={"ZipFile": make_zip({"app.py": FAILING})})
    response = lam.invoke(FunctionName=name, InvocationType="Event", Payload='{"n": 1}')
    assert response["StatusCode"] == 202
    # Given up after its third attempt (an attempt's log lines are stored before it is).
    (row,) = _wait_for(lambda: _failed(functory, credentials, name))
    assert (row["Attempts"], row["FunctionErrors"], row["Condition"]) == (3, 3, "RetriesExhausted")
    starts = _starts(_log_messages(client_for(functory, credentials, "logs"), name))
    assert len(starts) == 3
    assert {s["message"].split()[2] for s in starts} == {response["ResponseMetadata"]["RequestId"]}
    # The worker waited out each retry's delay (at least: a loaded machine only adds to it).
    times = sorted(s["timestamp"] for s in starts)
    for retry, gap in enumerate((times[1] - times[0], times[2] - times[1]), start=1):
        assert gap >= 1000 * asynchronous.retry_delay(retry, base=RETRY_BASE_SECONDS) * 0.9


@pytest.mark.live
def test_maximum_retry_attempts_zero_runs_once(
    lam: Any, functory: LiveServer, credentials: Any
) -> None:
    name = _name()
    create_function(lam, name, Code={"ZipFile": make_zip({"app.py": FAILING})})
    lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0)
    lam.invoke(FunctionName=name, InvocationType="Event", Payload='{"n": 1}')
    (row,) = _wait_for(lambda: _failed(functory, credentials, name))
    assert (row["Attempts"], row["Condition"]) == (1, "RetriesExhausted")
    assert len(_starts(_log_messages(client_for(functory, credentials, "logs"), name))) == 1


@pytest.mark.live
def test_a_throttled_event_waits_and_runs_once_concurrency_is_back(
    lam: Any, functory: LiveServer, credentials: Any
) -> None:
    name = _name()
    code = (
        "import time\n"
        "def handler(event, context):\n"
        "    time.sleep(event.get('hold', 0))\n"
        "    print('ran', event['marker'])\n"
    )
    create_function(lam, name, Code={"ZipFile": make_zip({"app.py": code})})
    # Throttles don't count against MaximumRetryAttempts.
    lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0)
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=1)
    # A synchronous invoke holds the function's only slot while the event is tried (the
    # embedded worker runs its events in the server's executor: one count).
    holder = threading.Thread(
        target=lambda: lam.invoke(FunctionName=name, Payload='{"hold": 5, "marker": "sync"}')
    )
    holder.start()
    logs = client_for(functory, credentials, "logs")
    _wait_for(lambda: _starts(_log_messages(logs, name)), timeout=30)  # the holder is running
    marker = uuid.uuid4().hex
    response = lam.invoke(
        FunctionName=name, InvocationType="Event", Payload=json.dumps({"marker": marker})
    )
    assert response["StatusCode"] == 202
    request_id = response["ResponseMetadata"]["RequestId"]
    # The worker has tried it and been throttled (not given up: throttles are retried)...
    (row,) = _wait_for(lambda: _throttled(functory, credentials, name, request_id), timeout=30)
    assert (row["Status"], row["FunctionErrors"]) == ("retrying", 0)
    # ...and has not run it (its attempt's log lines would be stored before its outcome).
    assert [e for e in _log_messages(logs, name) if f"ran {marker}" in e["message"]] == []
    holder.join()
    _wait_for(lambda: [e for e in _log_messages(logs, name) if f"ran {marker}" in e["message"]])


@pytest.mark.live
def test_reserved_concurrency_zero_gives_events_up_without_running_them(
    lam: Any, functory: LiveServer, credentials: Any
) -> None:
    name = _name()
    create_function(lam, name, Code={"ZipFile": make_zip({"app.py": FAILING})})
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    lam.invoke(FunctionName=name, InvocationType="Event", Payload='{"n": 1}')
    (row,) = _wait_for(lambda: _failed(functory, credentials, name), timeout=30)
    assert row["Attempts"] == 0 and row["LastError"].startswith("TooManyRequestsException")
    logs = client_for(functory, credentials, "logs")
    assert _starts(_log_messages(logs, name)) == []


@pytest.mark.live
def test_the_api_lists_an_accounts_failed_async_invocations(
    lam: Any, functory: LiveServer, credentials: Any
) -> None:
    name = _name()
    create_function(lam, name, Code={"ZipFile": make_zip({"app.py": FAILING})})
    lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0)
    request_id = lam.invoke(FunctionName=name, InvocationType="Event", Payload='{"n": 1}')[
        "ResponseMetadata"
    ]["RequestId"]

    def failed() -> list[dict[str, Any]]:
        response = signed(
            functory,
            credentials,
            "GET",
            f"/_functory/async-invocations?Status=failed&FunctionName={name}",
        )
        assert response.status == 200, response.body
        rows: list[dict[str, Any]] = response.json()["AsyncInvocations"]
        return rows

    (row,) = _wait_for(failed)
    assert row["RequestId"] == request_id
    assert (row["Status"], row["Attempts"], row["FunctionErrors"]) == ("failed", 1, 1)
    assert "ValueError" in row["LastError"] and row["ExecutedVersion"] == "$LATEST"
    # Another account sees none of them.
    other = signed(functory, create_user(functory), "GET", "/_functory/async-invocations")
    assert other.json() == {"AsyncInvocations": []}
    bad = signed(functory, credentials, "GET", "/_functory/async-invocations?Status=lost")
    assert (bad.status, bad.error_type) == (400, "InvalidParameterValueException")


@pytest.mark.live
def test_an_event_payload_over_1_mb_is_refused(lam: Any) -> None:
    name = _name()
    create_function(lam, name)
    payload = json.dumps({"data": "x" * 1048576})
    with pytest.raises(ClientError) as excinfo:
        lam.invoke(FunctionName=name, InvocationType="Event", Payload=payload)
    assert client_error(excinfo) == (
        "RequestEntityTooLargeException",
        f"{len(payload)} byte payload is too large for the Event invocation type "
        "(limit 1048576 bytes)",
        413,
    )
    # The same payload is fine for a synchronous invoke (6 MB limit).
    assert lam.invoke(FunctionName=name, Payload=payload)["StatusCode"] == 200


@pytest.mark.live
def test_an_event_invoke_of_a_missing_function_is_refused(lam: Any) -> None:
    with pytest.raises(ClientError) as excinfo:
        lam.invoke(FunctionName="no-such-function", InvocationType="Event", Payload="{}")
    assert client_error(excinfo)[0] == "ResourceNotFoundException"


# Service level: claims, the sweeper, event age.


@pytest.fixture
def enqueued(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, float | None]]:
    calls: list[tuple[int, float | None]] = []
    monkeypatch.setattr(
        taskqueue, "enqueue", lambda pk, countdown=None: calls.append((pk, countdown))
    )
    return calls


@pytest.fixture
def account(db: None) -> Account:
    return Account.objects.create(id="123456789012")


@pytest.fixture(autouse=True)
def _nothing_ended_here(monkeypatch: pytest.MonkeyPatch) -> None:
    """Test transactions roll back, so event ids come again: each test starts with an empty
    memo of the events this process ended."""
    monkeypatch.setattr(asynchronous, "_ended_here", {})


def test_a_second_claim_of_the_same_event_loses(account: Account) -> None:
    event = async_invocation_row(account)
    first = asynchronous.async_invocation_claim(event.pk)
    assert first is not None and first.attempts == 1
    assert asynchronous.async_invocation_claim(event.pk) is None
    event.refresh_from_db()
    assert event.status == AsyncInvocation.Status.RUNNING and event.attempts == 1


def test_an_event_not_yet_due_is_not_claimed(account: Account) -> None:
    event = async_invocation_row(account, next_attempt_at=timezone.now() + timedelta(minutes=1))
    assert asynchronous.async_invocation_claim(event.pk) is None


def test_an_expired_claim_is_recovered_by_the_sweeper(
    account: Account, enqueued: list[tuple[int, float | None]]
) -> None:
    event = async_invocation_row(account)
    assert asynchronous.async_invocation_claim(event.pk) is not None
    assert asynchronous.async_invocations_sweep() == 0
    # The worker died: its lease runs out.
    AsyncInvocation.objects.filter(pk=event.pk).update(
        claimed_until=timezone.now() - timedelta(seconds=1)
    )
    assert asynchronous.async_invocations_sweep() == 1
    assert enqueued == [(event.pk, None)]
    event.refresh_from_db()
    assert event.status == AsyncInvocation.Status.RETRYING
    again = asynchronous.async_invocation_claim(event.pk)
    assert again is not None and again.attempts == 2


def test_an_expired_claim_can_be_taken_over_directly(account: Account) -> None:
    event = async_invocation_row(account)
    first = asynchronous.async_invocation_claim(event.pk)
    assert first is not None
    later = timezone.now() + timedelta(hours=1)
    second = asynchronous.async_invocation_claim(event.pk, now=later)
    assert second is not None and second.attempts == 2
    # The first attempt no longer holds the event: its outcome is not written.
    assert not asynchronous._record(first, status=AsyncInvocation.Status.SUCCEEDED)


def test_the_sweeper_resends_an_event_whose_message_was_lost(
    account: Account, enqueued: list[tuple[int, float | None]]
) -> None:
    fresh = async_invocation_row(account)
    lost = async_invocation_row(account, next_attempt_at=timezone.now() - timedelta(hours=1))
    assert asynchronous.async_invocations_sweep() == 1
    assert enqueued == [(lost.pk, None)]
    # Sent once per requeue period, not on every sweep.
    assert asynchronous.async_invocations_sweep() == 0
    assert fresh.pk not in [pk for pk, _ in enqueued]


def test_an_event_older_than_the_default_six_hours_fails_without_running(
    account: Account,
) -> None:
    event = async_invocation_row(account, created=timezone.now() - timedelta(hours=6, seconds=1))
    assert asynchronous.async_invocation_run(event.pk) == AsyncInvocation.Status.FAILED
    event.refresh_from_db()
    assert event.status == AsyncInvocation.Status.FAILED
    assert event.last_error == "EventAgeExceeded"
    assert event.attempts == 0 and event.finished is not None


def test_an_event_older_than_its_configured_maximum_age_fails(account: Account) -> None:
    function = function_row(account, "fn")
    EventInvokeConfig.objects.create(
        function=function, qualifier="$LATEST", maximum_event_age=60, last_modified=timezone.now()
    )
    event = async_invocation_row(account, created=timezone.now() - timedelta(seconds=61))
    settings = asynchronous.event_invoke_settings(event)
    assert (settings.maximum_retry_attempts, settings.maximum_event_age) == (2, 60)
    assert asynchronous.async_invocation_run(event.pk) == AsyncInvocation.Status.FAILED


def test_a_finished_event_is_not_run_again(account: Account) -> None:
    event = async_invocation_row(account, status=AsyncInvocation.Status.SUCCEEDED)
    assert asynchronous.async_invocation_run(event.pk) == "skipped"


def test_a_failing_event_is_retried_twice_at_the_spacing_of_retry_delay(
    account: Account,
    enqueued: list[tuple[int, float | None]],
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
    settings: Any,
) -> None:
    """The delays handed to Celery and stored on the event, without waiting for them."""
    settings.FUNCTORY_ASYNC_RETRY_BASE_SECONDS = 60.0
    # The function fails at once (resolving and running it are what the live tests cover).
    target = SimpleNamespace(timeout_s=3.0, reserved_concurrency=None)

    async def invoke_target(*args: Any) -> SimpleNamespace:
        return target

    failed = remote.Attempt(b'{"errorMessage": "nope"}', "Unhandled", "$LATEST")
    monkeypatch.setattr(asynchronous.services, "invoke_target", invoke_target)
    monkeypatch.setattr(
        asynchronous, "_attempts", lambda batch, target, budget: [failed] * len(batch)
    )
    event = async_invocation_row(account)
    for retry in (1, 2):
        before = timezone.now()
        with django_capture_on_commit_callbacks(execute=True):
            assert asynchronous.async_invocation_run(event.pk) == AsyncInvocation.Status.RETRYING
        delay = asynchronous.retry_delay(retry, base=60.0)
        assert enqueued[-1] == (event.pk, delay)
        event.refresh_from_db()
        due = timedelta(seconds=delay)
        assert before + due <= event.next_attempt_at <= timezone.now() + due
        # Not due yet; then the countdown passes.
        assert asynchronous.async_invocation_run(event.pk) == "skipped"
        AsyncInvocation.objects.filter(pk=event.pk).update(next_attempt_at=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        assert asynchronous.async_invocation_run(event.pk) == AsyncInvocation.Status.FAILED
    assert [delay for _, delay in enqueued] == [60, 120]
    event.refresh_from_db()
    assert (event.attempts, event.function_errors, event.condition) == (3, 3, "RetriesExhausted")


def _claimed_pks(claimed: list[AsyncInvocation]) -> set[int]:
    return {invocation.pk for invocation in claimed}


def test_a_batch_claims_the_due_events_of_the_same_function_and_qualifier_only(
    account: Account,
) -> None:
    head = async_invocation_row(account)
    due = [async_invocation_row(account) for _ in range(2)]
    async_invocation_row(account, next_attempt_at=timezone.now() + timedelta(minutes=1))
    async_invocation_row(account, "other")
    async_invocation_row(account, qualifier="prod")
    held = async_invocation_row(account)
    assert asynchronous.async_invocation_claim(held.pk) is not None
    claimed = asynchronous.async_invocation_claim(head.pk)
    assert claimed is not None
    more = asynchronous.async_invocations_claim_more(claimed, limit=10)
    assert _claimed_pks(more) == {event.pk for event in due}
    for event in more:  # claimed as a single claim claims: the attempt number is the token
        assert event.status == AsyncInvocation.Status.RUNNING and event.attempts == 1
        assert asynchronous.async_invocation_claim(event.pk) is None
    assert asynchronous.async_invocations_claim_more(claimed, limit=10) == []


def test_a_batch_claim_takes_at_most_its_limit_oldest_first(account: Account) -> None:
    now = timezone.now()
    head = async_invocation_row(account)
    events = [
        async_invocation_row(account, next_attempt_at=now - timedelta(seconds=s)) for s in (1, 3, 2)
    ]
    claimed = asynchronous.async_invocation_claim(head.pk)
    assert claimed is not None
    more = asynchronous.async_invocations_claim_more(claimed, limit=2)
    assert [event.pk for event in more] == [events[1].pk, events[2].pk]


@pytest.mark.django_db(transaction=True)
def test_concurrent_batch_claims_never_take_the_same_event() -> None:
    from django.db import connection

    account = Account.objects.create(id="123456789012")
    heads = [async_invocation_row(account) for _ in range(4)]
    events = [async_invocation_row(account) for _ in range(40)]
    taken: list[set[int]] = []
    barrier = threading.Barrier(len(heads))

    def claim(head: AsyncInvocation) -> None:
        try:
            barrier.wait()
            seen: set[int] = set()
            while more := asynchronous.async_invocations_claim_more(head, limit=3):
                seen |= _claimed_pks(more)
            taken.append(seen)
        finally:
            connection.close()

    threads = [threading.Thread(target=claim, args=(head,)) for head in heads]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    claimed = [pk for seen in taken for pk in seen]
    assert len(claimed) == len(set(claimed))
    assert set(claimed) | {head.pk for head in heads} == {e.pk for e in [*heads, *events]}
    assert set(
        AsyncInvocation.objects.filter(pk__in=claimed).values_list("attempts", flat=True)
    ) == {1}


def test_a_killed_workers_whole_batch_is_handed_out_again(
    account: Account, enqueued: list[tuple[int, float | None]]
) -> None:
    head = async_invocation_row(account)
    others = [async_invocation_row(account) for _ in range(3)]
    claimed = asynchronous.async_invocation_claim(head.pk)
    assert claimed is not None
    assert len(asynchronous.async_invocations_claim_more(claimed, limit=10)) == 3
    assert asynchronous.async_invocations_sweep() == 0
    # The worker dies mid-batch: every lease of the batch runs out.
    later = timezone.now() + timedelta(hours=1)
    assert asynchronous.async_invocations_sweep(now=later) == 4
    assert sorted(pk for pk, _ in enqueued) == sorted(e.pk for e in [head, *others])
    for event in [head, *others]:
        again = asynchronous.async_invocation_claim(event.pk, now=later)
        assert again is not None and again.attempts == 2


@pytest.fixture
def ran(monkeypatch: pytest.MonkeyPatch) -> SimpleNamespace:
    """Every batch of attempts (``batches``, by event id) of a ``target`` whose attempts
    all succeed (no function runs)."""
    batches: list[list[int]] = []
    target = SimpleNamespace(timeout_s=3.0, reserved_concurrency=None)

    async def invoke_target(*args: Any) -> SimpleNamespace:
        return target

    def attempts(batch: list[AsyncInvocation], target: Any, *budget: float) -> list[remote.Attempt]:
        batches.append([invocation.pk for invocation in batch])
        return [remote.Attempt(b"1", None, "$LATEST") for _ in batch]

    monkeypatch.setattr(asynchronous.services, "invoke_target", invoke_target)
    monkeypatch.setattr(asynchronous, "_attempts", attempts)
    return SimpleNamespace(batches=batches, target=target)


def test_a_worker_runs_its_functions_due_events_as_one_batch_each_once(
    account: Account, ran: SimpleNamespace, settings: Any
) -> None:
    settings.FUNCTORY_ASYNC_BATCH = 3
    events = [async_invocation_row(account) for _ in range(5)]
    assert asynchronous.async_invocation_run(events[0].pk) == AsyncInvocation.Status.SUCCEEDED
    assert ran.batches == [[events[0].pk, events[1].pk, events[2].pk]]
    # Their own messages find them done; the rest make the next batch.
    assert asynchronous.async_invocation_run(events[1].pk) == "skipped"
    assert asynchronous.async_invocation_run(events[3].pk) == AsyncInvocation.Status.SUCCEEDED
    assert ran.batches[1] == [events[3].pk, events[4].pk]
    for event in events:
        event.refresh_from_db()
        assert event.status == AsyncInvocation.Status.SUCCEEDED and event.attempts == 1


def test_a_batch_is_no_larger_than_the_functions_reserved_concurrency(
    account: Account, ran: SimpleNamespace, settings: Any
) -> None:
    settings.FUNCTORY_ASYNC_BATCH = 8
    ran.target.reserved_concurrency = 2
    events = [async_invocation_row(account) for _ in range(4)]
    asynchronous.async_invocation_run(events[0].pk)
    assert ran.batches == [[events[0].pk, events[1].pk]]


def test_a_batchs_leases_outlast_every_round_of_its_attempts(
    account: Account, ran: SimpleNamespace, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.FUNCTORY_ASYNC_BATCH = 5
    settings.FUNCTORY_ASYNC_BATCH_CONCURRENCY = 2
    settings.FUNCTORY_ASYNC_LEASE_SECONDS = 60.0
    ran.target.timeout_s = 10.0  # 3 rounds of 2: up to 30 s
    events = [async_invocation_row(account) for _ in range(5)]
    leases: list[Any] = []
    succeed = asynchronous._attempts

    def attempts(batch: list[AsyncInvocation], target: Any, budget_s: float) -> Any:
        leases.extend(
            AsyncInvocation.objects.filter(pk__in=[e.pk for e in batch]).values_list(
                "claimed_until", flat=True
            )
        )
        return succeed(batch, target, budget_s)

    monkeypatch.setattr(asynchronous, "_attempts", attempts)
    began = timezone.now()
    asynchronous.async_invocation_run(events[0].pk)
    assert len(leases) == 5
    margin = asynchronous.LEASE_MARGIN_SECONDS
    assert all(lease >= began + timedelta(seconds=30 + margin) for lease in leases)


def test_a_batch_of_a_long_running_function_is_a_single_round(
    account: Account, ran: SimpleNamespace, settings: Any
) -> None:
    settings.FUNCTORY_ASYNC_BATCH = 5
    settings.FUNCTORY_ASYNC_BATCH_CONCURRENCY = 2
    settings.FUNCTORY_ASYNC_LEASE_SECONDS = 60.0
    ran.target.timeout_s = 300.0
    events = [async_invocation_row(account) for _ in range(5)]
    asynchronous.async_invocation_run(events[0].pk)
    assert ran.batches == [[events[0].pk, events[1].pk]]


def test_gather_limited_runs_no_more_than_its_limit_at_once() -> None:
    import asyncio

    from invocations import eventloop

    running: list[int] = [0]
    most: list[int] = [0]

    async def one(n: int) -> int:
        running[0] += 1
        most[0] = max(most[0], running[0])
        await asyncio.sleep(0)
        running[0] -= 1
        if n == 3:
            raise ValueError(n)
        return n

    results = asyncio.run(eventloop.gather_limited([one(n) for n in range(7)], 2))
    assert most[0] == 2
    assert results[:3] == [0, 1, 2] and isinstance(results[3], ValueError)
    assert results[4:] == [4, 5, 6]


@pytest.mark.parametrize(
    ("timeout_s", "reserved", "size"),
    [
        (3.0, None, 32),  # 8 rounds of 4 fit in the 60 s lease (less the 30 s margin)
        (3.0, 5, 5),  # no more than the function may run at once
        (10.0, None, 12),  # 3 rounds of 4
        (20.0, None, 4),
        (60.0, None, 4),  # one round: a long function's batch is no slower to recover
        (900.0, None, 4),
    ],
)
def test_a_batch_is_as_large_as_its_lease_and_reserved_concurrency_allow(
    settings: Any, timeout_s: float, reserved: int | None, size: int
) -> None:
    settings.FUNCTORY_ASYNC_BATCH = 32
    settings.FUNCTORY_ASYNC_BATCH_CONCURRENCY = 4
    settings.FUNCTORY_ASYNC_LEASE_SECONDS = 60.0
    target = SimpleNamespace(timeout_s=timeout_s, reserved_concurrency=reserved)
    assert asynchronous._batch_size(target) == size  # type: ignore[arg-type]


def test_a_message_for_an_event_this_process_ended_is_dropped_without_a_query(
    account: Account,
    ran: SimpleNamespace,
    settings: Any,
    django_capture_on_commit_callbacks: Any,
    django_assert_num_queries: Any,
) -> None:
    settings.FUNCTORY_ASYNC_BATCH = 3
    events = [async_invocation_row(account) for _ in range(3)]
    with django_capture_on_commit_callbacks(execute=True):
        asynchronous.async_invocation_run(events[0].pk)
    with django_assert_num_queries(0):
        assert asynchronous.async_invocation_run(events[2].pk) == "skipped"


def test_a_message_for_an_event_this_process_will_retry_is_not_dropped(
    account: Account,
    ran: SimpleNamespace,
    monkeypatch: pytest.MonkeyPatch,
    enqueued: list[tuple[int, float | None]],
    django_capture_on_commit_callbacks: Any,
) -> None:
    failed = remote.Attempt(b'{"errorMessage": "nope"}', "Unhandled", "$LATEST")
    monkeypatch.setattr(
        asynchronous, "_attempts", lambda batch, target, budget: [failed] * len(batch)
    )
    event = async_invocation_row(account)
    with django_capture_on_commit_callbacks(execute=True):
        assert asynchronous.async_invocation_run(event.pk) == AsyncInvocation.Status.RETRYING
    AsyncInvocation.objects.filter(pk=event.pk).update(next_attempt_at=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        assert asynchronous.async_invocation_run(event.pk) == AsyncInvocation.Status.RETRYING
    event.refresh_from_db()
    assert event.attempts == 2


def test_the_memo_of_ended_events_keeps_only_the_newest(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(asynchronous, "ENDED_HERE_LIMIT", 3)
    for pk in range(1, 6):
        asynchronous._ended_here_add(pk)
    assert list(asynchronous._ended_here) == [3, 4, 5]


def _queries_to_run_a_batch(account: Account, size: int, settings: Any) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    settings.FUNCTORY_ASYNC_BATCH = size
    events = [async_invocation_row(account) for _ in range(size)]
    with CaptureQueriesContext(connection) as queries:
        asynchronous.async_invocation_run(events[0].pk)
    for event in events:
        event.refresh_from_db()
        assert event.status == AsyncInvocation.Status.SUCCEEDED and event.finished is not None
        assert event.executed_version == "$LATEST" and event.claimed_until is None
    return len(queries)


def test_a_batch_of_successes_is_recorded_with_as_many_queries_as_a_pair(
    account: Account, ran: SimpleNamespace, settings: Any
) -> None:
    assert _queries_to_run_a_batch(account, 8, settings) == _queries_to_run_a_batch(
        account, 2, settings
    )


def test_a_success_whose_claim_was_taken_over_is_not_recorded(
    account: Account, ran: SimpleNamespace, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.FUNCTORY_ASYNC_BATCH = 3
    events = [async_invocation_row(account) for _ in range(3)]
    succeed = asynchronous._attempts

    def slow(batch: list[AsyncInvocation], target: Any, budget_s: float) -> Any:
        # Meanwhile the second event's lease ran out and another attempt took it.
        later = timezone.now() + timedelta(hours=1)
        assert asynchronous.async_invocation_claim(events[1].pk, now=later) is not None
        return succeed(batch, target, budget_s)

    monkeypatch.setattr(asynchronous, "_attempts", slow)
    asynchronous.async_invocation_run(events[0].pk)
    statuses = [AsyncInvocation.objects.get(pk=e.pk).status for e in events]
    assert statuses == [
        AsyncInvocation.Status.SUCCEEDED,
        AsyncInvocation.Status.RUNNING,
        AsyncInvocation.Status.SUCCEEDED,
    ]
    assert AsyncInvocation.objects.get(pk=events[1].pk).attempts == 2
