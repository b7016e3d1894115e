"""The SQS poller's event source mapping metrics (AWS's event counts) against a real SQS
peer (a moto server): what it reports for filtered, invoked, failed and deleted records,
and that it reports nothing unless the mapping's MetricsConfig asks for EventCount."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from typing import Any

import pytest

from conftest import AwsPeer
from monitoring.metrics.recorder import MetricsRecorder
from monitoring.metrics.services import CounterKey
from triggers.filtering import compile_filter_criteria
from triggers.pollers import metrics
from triggers.pollers.config import event_count_enabled
from triggers.pollers.invoke import Outcome
from triggers.tests.test_sqs_poller import Function, Run, counts, mapping, new_queue, peer_client


class Stored:
    """The counters a recorder flushed, summed by (series, metric)."""

    def __init__(self) -> None:
        self.totals: Counter[tuple[str, str, str, str]] = Counter()

    def __call__(self, counters: Mapping[CounterKey, int]) -> None:
        for key, value in counters.items():
            self.totals[(key.namespace, key.dimension, key.series, key.metric)] += value

    def of(self, series: str) -> dict[str, int]:
        return {
            metric: value
            for (namespace, dimension, name, metric), value in self.totals.items()
            if namespace == "AWS/Lambda"
            and dimension == "EventSourceMappingUUID"
            and name == series
        }


@pytest.fixture
def sqs(aws_peer: AwsPeer) -> Any:
    return aws_peer.client("sqs")


@pytest.fixture
def client(aws_peer: AwsPeer) -> Any:
    return peer_client(aws_peer)


@pytest.fixture
def stored(monkeypatch: pytest.MonkeyPatch) -> Stored:
    store = Stored()
    monkeypatch.setattr(metrics, "recorder", MetricsRecorder(background=False, counter_store=store))
    return store


def test_it_counts_polled_filtered_invoked_failed_and_deleted_records(
    sqs: Any, client: Any, stored: Stored
) -> None:
    url, arn = new_queue(sqs, VisibilityTimeout="2")
    bodies = ['{"keep": 1, "fail": true}', '{"keep": 2}', '{"drop": 1}', '{"drop": 2}']
    for body in bodies:
        sqs.send_message(QueueUrl=url, MessageBody=body)

    failed_once: set[str] = set()

    def answer(event: dict[str, Any]) -> Outcome:
        # The record asking to fail fails the first time the function sees it only (not by
        # its receive count: on a loaded machine a receive can lapse before it is invoked).
        failed = [
            {"itemIdentifier": r["messageId"]}
            for r in event["Records"]
            if "fail" in r["body"] and r["messageId"] not in failed_once
        ]
        failed_once.update(item["itemIdentifier"] for item in failed)
        return Outcome(json.dumps({"batchItemFailures": failed}).encode(), None)

    filters = compile_filter_criteria(
        {"Filters": [{"Pattern": '{"body": {"keep": [{"exists": true}]}}'}]}
    )
    config = mapping(
        arn,
        filters=filters,
        report_batch_item_failures=True,
        maximum_concurrency=1,
        event_count_metrics=True,
    )
    function = Function(answer)
    Run(config, function, client).until(lambda: counts(sqs, url) == (0, 0), timeout=30)
    metrics.recorder.flush()

    assert len(function.records) == 3  # two kept records, one of them twice
    assert stored.of(config.uuid) == {
        "PolledEventCount": 5,  # four, then the failed one again
        "FilteredOutEventCount": 2,
        "InvokedEventCount": 3,
        "FailedInvokeEventCount": 1,
        "DeletedEventCount": 4,  # the two filtered out and the two processed
    }


def test_a_failed_invocation_counts_the_whole_batch_as_failed(
    sqs: Any, client: Any, stored: Stored
) -> None:
    url, arn = new_queue(sqs, VisibilityTimeout="60")
    sqs.send_message_batch(
        QueueUrl=url, Entries=[{"Id": str(n), "MessageBody": str(n)} for n in range(3)]
    )
    function = Function(lambda event: Outcome(b'{"errorMessage": "boom"}', "Unhandled"))
    config = mapping(arn, maximum_concurrency=1, event_count_metrics=True)
    Run(config, function, client).until(lambda: len(function.records) >= 3)
    metrics.recorder.flush()

    counted = stored.of(config.uuid)
    assert counted["InvokedEventCount"] == counted["FailedInvokeEventCount"] == 3
    assert "DeletedEventCount" not in counted


def test_nothing_is_counted_without_event_count_in_the_metrics_config(
    sqs: Any, client: Any, stored: Stored
) -> None:
    url, arn = new_queue(sqs)
    sqs.send_message(QueueUrl=url, MessageBody="x")
    function = Function()
    Run(mapping(arn), function, client).until(lambda: counts(sqs, url) == (0, 0))
    metrics.recorder.flush()

    assert function.records
    assert not stored.totals


@pytest.mark.parametrize(
    ("config", "enabled"),
    [
        ({"Metrics": ["EventCount"]}, True),
        ({"Metrics": ["ErrorCount", "EventCount"]}, True),
        ({"Metrics": []}, False),
        ({}, False),
        ({"Metrics": "EventCount"}, False),
        ("EventCount", False),
    ],
)
def test_event_counts_are_enabled_by_eventcount_in_metrics_config(
    config: Any, enabled: bool
) -> None:
    assert event_count_enabled(config) is enabled
