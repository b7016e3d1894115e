"""Subscription filters' deliveries from the ingest path: asynchronous invocations of the
destination function with CloudWatch Logs' payload, split, bounded for self-subscriptions."""

from __future__ import annotations

import base64
import gzip
import json
import time

import pytest

from conftest import make_zip
from functions import codestore
from functions.models import FunctionVersion
from functions.tests.factories import function_row
from iam.models import Account
from invocations.models import AsyncInvocation
from monitoring import log_filters
from monitoring.batches import LogBatch
from monitoring.models import LogEvent, LogFilter, LogGroup
from monitoring.services import log_batches_store

OWNER = "111122223333"
GROUP = "/app/orders"


@pytest.fixture
def owner(db) -> Account:
    account = Account.objects.create(id=OWNER)
    LogGroup.objects.create(account=account, name=GROUP, created=1)
    log_filters._cache.clear()
    log_filters._self_deliveries.clear()
    log_filters._delivery_streams.clear()
    return account


def _store(lines: list[str], stream: str = "s", group: str = GROUP) -> None:
    now = int(time.time() * 1000)
    log_batches_store([LogBatch(OWNER, group, stream, [(now, line) for line in lines])])


def _subscribe(owner: Account, function: str, group: str = GROUP, pattern: str = "") -> None:
    """A subscription row as PutSubscriptionFilter stores it (its permission check is the
    API tests' concern)."""
    row = LogGroup.objects.get(account=owner, name=group)
    LogFilter.objects.create(
        group=row,
        kind=LogFilter.Kind.SUBSCRIPTION,
        name="to-" + function,
        pattern=pattern,
        spec={"destinationArn": f"arn:aws:lambda:us-east-1:{OWNER}:function:{function}"},
        created=1,
    )
    log_filters._cache.clear()


def _function(owner: Account, name: str) -> None:
    function = function_row(owner, name)
    FunctionVersion.objects.filter(function=function).update(code=codestore.put(make_zip(), 64))


def _delivered(invocation: AsyncInvocation) -> dict:
    event = json.loads(bytes(invocation.payload))
    return json.loads(gzip.decompress(base64.b64decode(event["awslogs"]["data"])))


def test_matching_events_are_delivered_as_one_async_invocation_per_batch(owner):
    _function(owner, "shipper")
    _subscribe(owner, "shipper", pattern="ERROR")
    _store(["ERROR a", "fine", "ERROR b"], stream="web-1")
    _store(["nothing to see"], stream="web-1")
    (invocation,) = AsyncInvocation.objects.all()
    assert invocation.function_name == "shipper"
    data = _delivered(invocation)
    assert {key: data[key] for key in data if key != "logEvents"} == {
        "messageType": "DATA_MESSAGE",
        "owner": OWNER,
        "logGroup": GROUP,
        "logStream": "web-1",
        "subscriptionFilters": ["to-shipper"],
    }
    assert [e["message"] for e in data["logEvents"]] == ["ERROR a", "ERROR b"]
    ids = LogEvent.objects.filter(message__startswith="ERROR").order_by("id")
    assert [e["id"] for e in data["logEvents"]] == [log_filters.event_id(e) for e in ids]


def test_a_large_batch_is_split_under_the_payload_limit_and_nothing_is_lost(owner):
    _function(owner, "shipper")
    _subscribe(owner, "shipper")
    lines = [f"{i:06d} " + "y" * 1000 for i in range(1000)]
    _store(lines)
    invocations = list(AsyncInvocation.objects.order_by("id"))
    assert len(invocations) > 1
    assert all(len(bytes(i.payload)) <= 256 * 1024 for i in invocations)
    messages = [e["message"] for i in invocations for e in _delivered(i)["logEvents"]]
    assert messages == lines


def _invocation_lines(request_id: str, *printed: str) -> list[str]:
    return [
        f"START RequestId: {request_id} Version: $LATEST",
        *printed,
        f"END RequestId: {request_id}",
        f"REPORT RequestId: {request_id}\tDuration: 1.00 ms",
    ]


def test_a_function_subscribed_to_its_own_group_does_not_receive_its_deliveries_lines(owner):
    _function(owner, "loop")
    LogGroup.objects.create(account=owner, name="/aws/lambda/loop", created=1)
    _subscribe(owner, "loop", group="/aws/lambda/loop")
    _store(_invocation_lines("user-call", "hello"), group="/aws/lambda/loop")
    (first,) = AsyncInvocation.objects.all()
    assert [e["message"] for e in _delivered(first)["logEvents"]][:2] == [
        "START RequestId: user-call Version: $LATEST",
        "hello",
    ]
    # The delivery's own run writes its lines, over two batches: none goes round again.
    lines = _invocation_lines(first.request_id, "hello again")
    _store(lines[:2], group="/aws/lambda/loop")
    _store(lines[2:], group="/aws/lambda/loop")
    assert AsyncInvocation.objects.count() == 1
    # What the function writes afterwards for someone else's call is delivered.
    _store(_invocation_lines("another-call"), group="/aws/lambda/loop")
    assert AsyncInvocation.objects.count() == 2


def test_a_self_subscription_whose_lines_name_no_request_is_bounded(owner, monkeypatch):
    minute = [600.0]
    monkeypatch.setattr(log_filters, "clock", lambda: minute[0])
    _function(owner, "loop")
    LogGroup.objects.create(account=owner, name="/aws/lambda/loop", created=1)
    _subscribe(owner, "loop", group="/aws/lambda/loop")
    for i in range(50):
        _store([f"line {i}"], group="/aws/lambda/loop")
    assert AsyncInvocation.objects.count() == log_filters.SELF_DELIVERIES_PER_MINUTE
    assert LogEvent.objects.count() == 50
    minute[0] += 60
    _store(["next minute"], group="/aws/lambda/loop")
    assert AsyncInvocation.objects.count() == log_filters.SELF_DELIVERIES_PER_MINUTE + 1


def test_a_deleted_destination_loses_no_stored_event(owner):
    _subscribe(owner, "gone")
    _store(["a line"])
    assert LogEvent.objects.count() == 1
    assert not AsyncInvocation.objects.exists()
